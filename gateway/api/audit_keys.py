"""GET /v1/audit/keys: the public keys the audit trail's checkpoints are signed with.

Public, as public keys are: an auditor, a partner or a regulator records the key
ids from here, out of band, and pins them when checking an export with
``scripts/verify_audit_export.py --trust KEY_ID`` (docs/audit.md). Served from
the running gateway's configuration, never from the database, which someone
tampering with the audit trail could also write.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from gateway.runtime import Runtime


def install_audit_keys(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/v1/audit/keys", tags=["audit"])
    def audit_keys() -> dict[str, Any]:
        """Every public key trusted to sign audit checkpoints (Ed25519, raw 32 bytes in
        base64), the current one first; each checkpoint names its key id."""
        return {"keys": runtime.audit_keys.published()}
