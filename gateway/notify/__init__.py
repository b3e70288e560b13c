"""Telling people that an urgent alert waits for them (issue 17).

A notification says only which desk should look and where: "An urgent alert is waiting
for <desk name>" and a link to the inbox item. The alert itself stays in the gateway.
The notifier is synchronous and shares no state between calls, so the escalation clock
can call it from any worker thread, off the request path.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from gateway.notify.config import NotifySettings, load_notify_settings, notify_variable_names
from gateway.notify.email import SmtpEmailChannel
from gateway.notify.errors import NotificationFailed
from gateway.notify.govuk_notify import GovukNotifyChannel
from gateway.notify.message import UnsafeWords, Words, inbox_link, words

__all__ = [
    "Channel",
    "ChannelSender",
    "Contacts",
    "Delivery",
    "GovukNotifyChannel",
    "NotificationFailed",
    "Notified",
    "Notifier",
    "NotifySettings",
    "SmtpEmailChannel",
    "UnsafeWords",
    "Words",
    "inbox_link",
    "load_notify_settings",
    "notify_variable_names",
    "words",
]

log = logging.getLogger(__name__)


class Channel(StrEnum):
    SECURE_EMAIL = "secure-email"  # SMTP to the secure email services
    NOTIFY_EMAIL = "notify-email"  # GOV.UK Notify email
    NOTIFY_SMS = "notify-sms"  # GOV.UK Notify text message


class ChannelSender(Protocol):
    def send(self, contact: str, desk_name: str, link: str) -> str: ...


@dataclass(frozen=True)
class Contacts:
    """How one person (a SPOC, a duty officer) wants to be told."""

    email: str | None = None
    mobile: str | None = None
    channels: frozenset[Channel] = field(default_factory=frozenset)

    def contact_for(self, channel: Channel) -> str | None:
        return self.mobile if channel is Channel.NOTIFY_SMS else self.email


@dataclass(frozen=True)
class Delivery:
    """One channel's outcome. No contact address: the audit trail records this."""

    channel: Channel
    status: Literal["sent", "failed", "skipped"]
    message_id: str | None = None
    permanent: bool = False
    detail: str | None = None

    def as_audit(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"channel": self.channel.value, "status": self.status}
        if self.message_id is not None:
            entry["message_id"] = self.message_id
        if self.status == "failed":
            entry["permanent"] = self.permanent
        if self.detail is not None:
            entry["detail"] = self.detail
        return entry


@dataclass(frozen=True)
class Notified:
    """What one call sent, failed and skipped, in the person's channel order."""

    link: str | None
    deliveries: tuple[Delivery, ...]

    @property
    def sent(self) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if d.status == "sent")

    @property
    def failed(self) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if d.status == "failed")

    @property
    def told(self) -> bool:
        """At least one channel took the message."""
        return bool(self.sent)

    def as_audit(self) -> list[dict[str, Any]]:
        return [d.as_audit() for d in self.deliveries]


_ORDER = (Channel.SECURE_EMAIL, Channel.NOTIFY_EMAIL, Channel.NOTIFY_SMS)


class Notifier:
    """Sends through every channel the person chose and the gateway has configured."""

    def __init__(self, public_base_url: str | None, channels: dict[Channel, ChannelSender]) -> None:
        if channels and not public_base_url:
            raise ValueError("channels need public_base_url for their links")
        self.public_base_url = public_base_url
        self.channels = dict(channels)
        if not self.channels:
            log.info("notifications are off: no GATEWAY_NOTIFY_ channel is configured")
        else:
            log.info("notifications on: %s", ", ".join(c.value for c in self.channels))

    @classmethod
    def from_settings(
        cls,
        settings: NotifySettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backoff_seconds: float = 0.5,
    ) -> Notifier:
        channels: dict[Channel, ChannelSender] = {}
        if settings.smtp_host and settings.smtp_from:
            if ssl_context is None:
                ssl_context = ssl.create_default_context(
                    cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
                )
            password = settings.smtp_password
            channels[Channel.SECURE_EMAIL] = SmtpEmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_from,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password.get_secret_value() if password else None,
                timeout_seconds=settings.timeout_seconds,
                attempts=settings.attempts,
                ssl_context=ssl_context,
                backoff_seconds=backoff_seconds,
            )
        if settings.api_key:
            templates: Sequence[tuple[Channel, Literal["email", "sms"], str | None]] = (
                (Channel.NOTIFY_EMAIL, "email", settings.email_template_id),
                (Channel.NOTIFY_SMS, "sms", settings.sms_template_id),
            )
            for channel, kind, template_id in templates:
                if template_id:
                    channels[channel] = GovukNotifyChannel(
                        kind=kind,
                        api_key=settings.api_key.get_secret_value(),
                        template_id=template_id,
                        base_url=settings.base_url,
                        timeout_seconds=settings.timeout_seconds,
                        attempts=settings.attempts,
                        backoff_seconds=backoff_seconds,
                    )
        return cls(settings.public_base_url, channels)

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def notify(self, contacts: Contacts, desk_name: str, item_id: str) -> Notified:
        """Tell one person that the inbox item ``item_id`` waits for ``desk_name``.

        Never raises for a channel's failure (it is in the answer); raises UnsafeWords
        for a desk name or item id that could carry more than where to look."""
        if not self.channels or not self.public_base_url:
            return Notified(None, tuple(self._skipped(contacts.channels, "notifications off")))
        link = inbox_link(self.public_base_url, item_id)
        words(desk_name, link)  # refuse unsafe words before any channel is tried
        deliveries: list[Delivery] = []
        for channel in (c for c in _ORDER if c in contacts.channels):
            sender = self.channels.get(channel)
            contact = contacts.contact_for(channel)
            if sender is None:
                deliveries.append(Delivery(channel, "skipped", detail="channel not configured"))
            elif not contact:
                deliveries.append(Delivery(channel, "skipped", detail="no contact for it"))
            else:
                try:
                    message_id = sender.send(contact, desk_name, link)
                except NotificationFailed as exc:
                    log.warning("notification by %s failed: %s", channel.value, exc)
                    deliveries.append(
                        Delivery(channel, "failed", permanent=exc.permanent, detail=exc.detail)
                    )
                else:
                    deliveries.append(Delivery(channel, "sent", message_id=message_id))
        return Notified(link, tuple(deliveries))

    @staticmethod
    def _skipped(channels: Iterable[Channel], why: str) -> Iterable[Delivery]:
        return (Delivery(c, "skipped", detail=why) for c in _ORDER if c in channels)
