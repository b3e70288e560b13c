"""OAUTHBEARER tokens for kafka-python: the OAuth 2.0 client-credentials grant at the
identity provider's token endpoint (gateway/delivery/kafka_config.py chooses it)."""

from __future__ import annotations

import threading
import time

#: A token is fetched again this long before it expires.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0


def _token_provider_base() -> type:
    try:  # kafka-python 3
        from kafka.net.sasl.oauth import AbstractTokenProvider
    except ImportError:  # kafka-python 2
        from kafka.sasl.oauth import AbstractTokenProvider
    return AbstractTokenProvider  # type: ignore[no-any-return]


class ClientCredentialsTokenProvider(_token_provider_base()):  # type: ignore[misc]
    """OAUTHBEARER tokens from the identity provider's token endpoint (OAuth 2.0
    client credentials), kept until shortly before they expire. Shared by every
    client a process builds; safe across threads."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenProvider({self.token_url!r}, {self.client_id!r})"

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        import httpx

        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        response = httpx.post(
            self.token_url,
            data=form,
            auth=(self.client_id, self._client_secret),
            timeout=self.timeout,
        )
        response.raise_for_status()
        body = response.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 300))
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_REFRESH_MARGIN_SECONDS, 0.0)
