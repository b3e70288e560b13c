"""Sample clients for the embedded default: one per party, so the quick start works.

On the embedded default the data directory holds ``clients.yaml`` and, per
client, its key pair (``clients/<id>.private.jwk.json``, mode 0600, and the
public ``clients/<id>.jwks.json`` the registration names). ``gateway token
PARTNER`` signs an assertion with that private key and prints the access
token the gateway gives for it. A party the file does not know yet (another
agreement started on the same data directory) is added.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from joserfc.jwk import ECKey

from gateway.embedded.data_dir import make_private_dir, write_private_text
from gateway.identity.caller import PARTNER_SCOPES

#: The formats a sample client of each kind of party submits (as the samples do).
FORMATS_BY_KIND: dict[str, tuple[str, ...]] = {
    "police": ("police", "marac"),
    "police-legal": ("police",),
    "nhs-trust": ("fhir",),
    "nhs-crisis-service": ("fhir",),
    # Intervention services without a records system of their own raise alerts in
    # the gateway's small alert format (adapters/alert).
    "psychology-service": ("fhir", "alert"),
    "triage-clinic": ("fhir", "alert"),
    "probation-spoc": ("probation", "mappa"),
    "marac": ("marac",),
    "mappa": ("mappa",),
    "victim-advocate": ("marac", "alert"),
    "victim-charity": ("marac", "alert"),
}
CLIENTS_FILE = "clients.yaml"
KEYS_FOLDER = "clients"


def private_key_path(data_dir: Path, client_id: str) -> Path:
    return data_dir / KEYS_FOLDER / f"{client_id}.private.jwk.json"


def ensure_sample_clients(data_dir: Path, parties: dict[str, str]) -> Path:
    """``clients.yaml`` in ``data_dir`` with a client for every party (id -> kind),
    each with a fresh key pair; returns its path."""
    path = data_dir / CLIENTS_FILE
    document: dict[str, Any] = {"clients": []}
    if path.exists():
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {"clients": []}
    known = {c["partner"] for c in document["clients"]}
    added = False
    for party, kind in sorted(parties.items()):
        if party in known:
            continue
        key = ECKey.generate_key("P-256", parameters={"kid": f"{party}-1", "use": "sig"})
        _write_private(private_key_path(data_dir, party), json.dumps(key.as_dict(private=True)))
        public = data_dir / KEYS_FOLDER / f"{party}.jwks.json"
        public.write_text(json.dumps({"keys": [key.as_dict(private=False)]}), encoding="utf-8")
        document["clients"].append(
            {
                "client_id": party,
                "partner": party,
                "auth_method": "private_key_jwt",
                "jwks_file": f"{KEYS_FOLDER}/{party}.jwks.json",
                "formats": list(FORMATS_BY_KIND.get(kind, ())),
                "scopes": list(PARTNER_SCOPES),
            }
        )
        added = True
    if added or not path.exists():
        header = (
            "# Sample clients of the embedded default, one per party (gateway token PARTNER).\n"
        )
        _write_private(path, header + yaml.safe_dump(document, sort_keys=False))
    return path


def _write_private(path: Path, text: str) -> None:
    make_private_dir(path.parent)
    write_private_text(path, text)
