"""The one failure a channel raises, so the caller can tell "try later" from "never"."""

from __future__ import annotations


class NotificationFailed(Exception):
    """A notification was not sent. ``permanent``: retrying will not help (a refused
    recipient, a bad template, a bad key); otherwise the service was unreachable or
    busy after every attempt. ``detail`` holds no contact address."""

    def __init__(self, permanent: bool, detail: str) -> None:
        super().__init__(detail)
        self.permanent = permanent
        self.detail = detail

    def __str__(self) -> str:
        return f"{'permanent' if self.permanent else 'temporary'} failure: {self.detail}"


def redact(text: str, contact: str) -> str:
    """A service's reply without the contact it may echo (the audit trail keeps which
    channel failed, not a person's address)."""
    return text.replace(contact, "<recipient>") if contact else text
