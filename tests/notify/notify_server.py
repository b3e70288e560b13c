"""A loopback HTTP server that speaks the part of GOV.UK Notify's API the gateway uses:
POST /v2/notifications/email and /sms, with Notify's JWT check and error bodies."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

SERVICE_ID = "6f0b1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e"
SECRET = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
API_KEY = f"isg_gateway_test-{SERVICE_ID}-{SECRET}"
WRONG_SECRET_KEY = f"isg_gateway_test-{SERVICE_ID}-{uuid.UUID(int=1)}"
EMAIL_TEMPLATE = "0d3e6a4c-7a1f-4f7e-9f4d-3f6b1f2a9c01"
SMS_TEMPLATE = "7c8e1b2a-5d6f-4e3a-8b9c-1d2e3f4a5b02"
# The templates' text as docs/notifications.md asks a Notify service to set them up.
TEMPLATES: dict[str, dict[str, str]] = {
    EMAIL_TEMPLATE: {
        "type": "email",
        "subject": "An urgent alert is waiting for ((desk_name))",
        "body": "An urgent alert is waiting for ((desk_name)).\n\n"
        "Open it in the information-sharing gateway:\n((link))\n\n"
        "This message holds no details of the alert: sign in to read it.",
    },
    SMS_TEMPLATE: {"type": "sms", "body": "An urgent alert is waiting for ((desk_name)): ((link))"},
}
JWT_BOUND_SECONDS = 30


def _errors(status: int, error: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"error": error, "message": message}], "status_code": status}


@dataclass
class FakeNotify:
    """What the fake received (only requests that passed authentication) and failures
    to answer first (status codes, in order)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_first: list[int] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def check_token(self, header: str | None) -> tuple[int, dict[str, Any]] | None:
        if not header or not header.startswith("Bearer "):
            return _errors(401, "AuthError", "Unauthorized: authentication token must be provided")
        token = header.removeprefix("Bearer ")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return _errors(403, "AuthError", "Invalid token: algorithm used is not HS256")
            if unverified.get("iss") != SERVICE_ID:
                return _errors(403, "AuthError", "Invalid token: service not found")
            claims = jwt.decode(
                token,
                key=SECRET,
                algorithms=["HS256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return _errors(403, "AuthError", "Invalid token: signature, api token not found")
        except jwt.PyJWTError:
            return _errors(403, "AuthError", "Invalid token: signature")
        if abs(time.time() - int(claims["iat"])) > JWT_BOUND_SECONDS:
            return _errors(
                403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds"
            )
        return None

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        refused = self.check_token(headers.get("Authorization"))
        if refused:
            return refused
        kind = {"/v2/notifications/email": "email", "/v2/notifications/sms": "sms"}.get(path)
        if kind is None:
            return _errors(404, "ResourceNotFound", "Not found")
        try:
            data = json.loads(body)
        except ValueError:
            return _errors(400, "BadRequestError", "Invalid JSON supplied in POST data")
        with self.lock:
            self.attempts += 1
            if self.fail_first:
                status = self.fail_first.pop(0)
                if status == 429:
                    return _errors(
                        429,
                        "RateLimitError",
                        "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
                    )
                return _errors(status, "Exception", "Internal server error")
            self.requests.append({"kind": kind, **data})
        return self.notification(kind, data)

    def notification(self, kind: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        contact_field = "email_address" if kind == "email" else "phone_number"
        if not data.get(contact_field):
            return _errors(400, "ValidationError", f"{contact_field} is a required property")
        template = TEMPLATES.get(str(data.get("template_id")))
        if template is None:
            return _errors(400, "BadRequestError", "Template not found")
        if template["type"] != kind:
            return _errors(
                400,
                "BadRequestError",
                f"{template['type']} template is not suitable for {kind} notification",
            )
        personalisation = data.get("personalisation") or {}
        texts = {k: v for k, v in template.items() if k != "type"}
        missing = sorted(
            {m for t in texts.values() for m in re.findall(r"\(\((\w+)\)\)", t)}
            - set(personalisation)
        )
        if missing:
            return _errors(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")
        rendered = {
            k: re.sub(r"\(\((\w+)\)\)", lambda m: str(personalisation[m.group(1)]), t)
            for k, t in texts.items()
        }
        notification_id = str(uuid.uuid4())
        content: dict[str, Any] = {"body": rendered["body"]}
        if kind == "email":
            content.update(
                subject=rendered["subject"], from_email="isg.gateway@notifications.service.gov.uk"
            )
        else:
            content.update(from_number="GOVUK")
        return 201, {
            "id": notification_id,
            "reference": data.get("reference"),
            "content": content,
            "uri": f"{self.base_url}/v2/notifications/{notification_id}",
            "template": {
                "id": data["template_id"],
                "version": 1,
                "uri": f"{self.base_url}/services/{SERVICE_ID}/templates/{data['template_id']}",
            },
            "scheduled_for": None,
        }


@contextmanager
def notify_server(fake: FakeNotify) -> Iterator[str]:
    """Serve ``fake`` on a free loopback port and yield its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload = fake.answer(self.path, self.headers, self.rfile.read(length))
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
