"""GOV.UK Notify: emails and text messages through its official client.

Notify holds the words as templates; the gateway sends only the personalisation
``desk_name`` and ``link`` (docs/notifications.md gives the templates' text).
"""

from __future__ import annotations

import threading
from typing import Any, Literal, cast

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from gateway.notify.errors import NotificationFailed, redact
from gateway.notify.message import check_desk_name, check_link

Kind = Literal["email", "sms"]


class _Temporary(Exception):
    """Worth another attempt: Notify unreachable, rate-limited or answering 5xx."""


def _send(
    client: NotificationsAPIClient,
    kind: Kind,
    contact: str,
    template_id: str,
    personalisation: dict[str, str],
) -> dict[str, Any]:
    """The client's two calls, typed (the client itself has no annotations)."""
    if kind == "email":
        answer = client.send_email_notification(  # type: ignore[no-untyped-call]
            email_address=contact, template_id=template_id, personalisation=personalisation
        )
    else:
        answer = client.send_sms_notification(  # type: ignore[no-untyped-call]
            phone_number=contact, template_id=template_id, personalisation=personalisation
        )
    return cast(dict[str, Any], answer)


def _error_text(exc: APIError) -> str:
    """Notify's ``errors`` list as one line: ``BadRequestError: Template not found``."""
    message = exc.message
    if isinstance(message, list):
        return "; ".join(
            f"{e.get('error', 'Error')}: {e.get('message', '')}"
            for e in message
            if isinstance(e, dict)
        )
    return str(message)


class GovukNotifyChannel:
    """One Notify template and kind (email or sms). The client is not thread-safe,
    so each thread gets its own."""

    def __init__(
        self,
        *,
        kind: Kind,
        api_key: str,
        template_id: str,
        base_url: str,
        timeout_seconds: float = 10.0,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.kind, self.template_id, self.base_url = kind, template_id, base_url
        self.name = f"notify-{kind}"
        self._api_key = api_key
        self.timeout_seconds, self.attempts = timeout_seconds, attempts
        self.backoff_seconds = backoff_seconds
        self._local = threading.local()

    def _client(self) -> NotificationsAPIClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
                self._api_key, base_url=self.base_url, timeout=self.timeout_seconds
            )
            self._local.client = client
        return cast(NotificationsAPIClient, client)

    def send(self, contact: str, desk_name: str, link: str) -> str:
        """Send and return Notify's notification id; NotificationFailed otherwise."""
        if not contact or any(c in contact for c in "\r\n"):
            raise NotificationFailed(True, "no usable contact")
        personalisation = {"desk_name": check_desk_name(desk_name), "link": check_link(link)}
        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Temporary)),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_seconds, max=8, jitter=self.backoff_seconds
            ),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    answer = self._attempt(contact, personalisation)
        except _Temporary as exc:
            raise NotificationFailed(
                False, f"{redact(str(exc), contact)} (after {self.attempts} attempts)"
            ) from exc
        notification_id = answer.get("id")
        if not isinstance(notification_id, str):
            raise NotificationFailed(False, "notify: an answer without a notification id")
        return notification_id

    def _attempt(self, contact: str, personalisation: dict[str, str]) -> dict[str, Any]:
        try:
            return _send(self._client(), self.kind, contact, self.template_id, personalisation)
        except APIError as exc:
            status = exc.status_code
            detail = redact(f"notify {status}: {_error_text(exc)}", contact)
            # The client reports an unreachable Notify as 503 with no response.
            if status >= 500 or status == 429 or exc.response is None:
                raise _Temporary(detail) from exc
            raise NotificationFailed(True, detail) from exc
