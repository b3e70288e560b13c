"""A connection that does not finish its request's headers in time is closed.

uvicorn closes a connection left idle between requests (its keep-alive timeout),
but not one that trickles a request's headers a byte at a time (slowloris): each
such connection holds its place until the client tires. This protocol gives
every request ``header_seconds`` from its first byte (or from the connection
opening) to the end of its headers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)
#: The default deadline for a request's headers.
HEADER_SECONDS = 10.0


def header_deadline_protocol(header_seconds: float) -> type[H11Protocol]:
    """An h11 protocol class for ``uvicorn.Config(http=...)`` with this deadline."""

    class HeaderDeadlineProtocol(H11Protocol):
        _header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the headers are in: the request is being served
            elif self._header_deadline is None:
                self._arm()  # the next request's first bytes on a kept-alive connection

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle until the next request: uvicorn's keep-alive timeout

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_deadline = self.loop.call_later(header_seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _too_slow(self) -> None:
            self._header_deadline = None
            if self.cycle is None or self.cycle.response_complete:
                log.info("closing a connection whose request headers took over %gs", header_seconds)
                self.transport.close()

    return HeaderDeadlineProtocol


def uvicorn_options(header_seconds: float) -> dict[str, Any]:
    """What every uvicorn server of the gateway is configured with."""
    return {"http": header_deadline_protocol(header_seconds)}
