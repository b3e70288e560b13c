"""The linking key, held by the gateway's data custodian alone.

Configured as ``GATEWAY_LINKING_KEY``; on the embedded default a random one is
made on first run in the data directory. Outside the embedded default an
unset key means linking is off: records are not linked, and an evaluation
export is refused rather than made with a key anyone could guess.
"""

from __future__ import annotations

from gateway.embedded.data_dir import linking_key
from gateway.settings import Settings


class LinkingKeyMissing(ValueError):
    """Linking needs the custodian's key and none is configured (an operator's
    configuration, not a partner's request: the CLI prints it and exits 2)."""


def custodian_key(settings: Settings) -> bytes | None:
    """The linking key in force, or None when linking is off."""
    configured = settings.linking_key_bytes()
    if configured:
        return configured
    if settings.embedded:
        return linking_key(settings.data_dir)
    return None


def require_key(settings: Settings) -> bytes:
    key = custodian_key(settings)
    if key is None:
        raise LinkingKeyMissing(
            "GATEWAY_LINKING_KEY is not set: linking is off (the data custodian holds the key)"
        )
    return key
