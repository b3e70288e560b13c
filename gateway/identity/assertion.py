"""A client assertion (RFC 7523), as a partner system signs one to ask for a token."""

from __future__ import annotations

import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

#: How long an assertion is valid for: long enough to reach the gateway, no longer.
ASSERTION_SECONDS = 60


def client_assertion(client_id: str, private_jwk: dict[str, Any], token_url: str) -> str:
    """``client_id``'s signed assertion for the token endpoint at ``token_url``."""
    key: ECKey | RSAKey
    if private_jwk.get("kty") == "RSA":
        key, algorithm = RSAKey.import_key(private_jwk), "RS256"
    else:
        key, algorithm = ECKey.import_key(private_jwk), "ES256"
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + ASSERTION_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": algorithm, "typ": "JWT"}
    if key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, claims, key)
