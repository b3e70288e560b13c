"""A real webhook receiver on loopback whose behaviour a test scripts. It verifies
signatures as a partner's receiver would: with the ``standardwebhooks`` library and
the ``whsec_`` secret, never with the gateway's own code."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Attempt:
    at: float
    delivery_id: str
    signed: bool
    answered: str
    traceparent: str | None = None


@dataclass
class WebhookPeer:
    #: The endpoint's secret as the partners file gives it (``whsec_`` and base64).
    secret: str
    #: What to do with the next requests, in order: "500", "timeout", "503:<retry-after>", "ok".
    script: list[str] = field(default_factory=list)
    #: What to do once the script is used up.
    then: str = "ok"
    timeout_sleep: float = 2.0
    attempts: list[Attempt] = field(default_factory=list)
    received: dict[str, dict] = field(default_factory=dict)

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            body = await request.body()
            action = self.script.pop(0) if self.script else self.then
            delivery_id = request.headers.get("webhook-id", "")
            try:
                Webhook(self.secret).verify(body, dict(request.headers), json_parse=False)
                signed = True
            except WebhookVerificationError:
                signed = False
            self.attempts.append(
                Attempt(
                    time.monotonic(),
                    delivery_id,
                    signed,
                    action,
                    request.headers.get("traceparent"),
                )
            )
            if action == "timeout":
                await asyncio.sleep(self.timeout_sleep)
                return Response(status_code=504)
            if action.startswith("503"):
                _, _, retry_after = action.partition(":")
                return Response(status_code=503, headers={"Retry-After": retry_after or "1"})
            if action == "500":
                return Response(status_code=500)
            if not signed:
                return JSONResponse({"error": "bad signature"}, status_code=401)
            self.received.setdefault(delivery_id, await request.json())
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", receive, methods=["POST"])])
