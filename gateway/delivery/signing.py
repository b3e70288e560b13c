"""Signing webhook requests as the Standard Webhooks specification says, so a receiver
can verify them with an existing library (``standardwebhooks`` and its siblings).

Headers: ``webhook-id`` (the delivery id: the same on every retry of one copy,
so a receiver that keeps the ids it has processed skips a re-send),
``webhook-timestamp`` (unix seconds) and ``webhook-signature``: ``v1,`` and the
base64 HMAC-SHA256 of ``"<id>.<timestamp>." + body`` with the endpoint's own
key. A key is written in the specification's form, ``whsec_`` then the base64
of its bytes; the gateway wants at least 32 of them. A receiver verifies with
``standardwebhooks.Webhook("whsec_...").verify(body, headers)``, which also
refuses timestamps more than five minutes away.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
#: The shortest key accepted, in bytes (the specification recommends 24 to 64).
MIN_KEY_BYTES = 32


def decode_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret; ValueError saying what is wrong."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(
            f"is not a Standard Webhooks secret: write it as {SECRET_PREFIX} and the base64 "
            f"of at least {MIN_KEY_BYTES} random bytes"
        )
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"is not base64 after {SECRET_PREFIX}") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"is {len(key)} bytes long; at least {MIN_KEY_BYTES} are needed")
    return key


def encode_secret(key: bytes) -> str:
    """The ``whsec_`` form of ``key``, as a receiver's library takes it."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def sign_headers(
    message_id: str, body: bytes, key: bytes, when: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt to send ``body``."""
    when = when or datetime.now(UTC)
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(int(when.timestamp())),
        SIGNATURE_HEADER: Webhook(key).sign(message_id, when, body),
    }


def verify(body: bytes, headers: dict[str, str], key: bytes) -> bool:
    """Whether ``headers`` sign ``body`` with ``key`` recently, as a receiver checks it."""
    try:
        Webhook(key).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True
