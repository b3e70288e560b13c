"""Secure email over SMTP: the criminal-justice and NHS secure email services accept
plain SMTP with STARTTLS from registered relays."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from gateway.notify.errors import NotificationFailed, redact
from gateway.notify.message import words

_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")


class _Temporary(Exception):
    """Worth another attempt: the relay was unreachable or answered 4xx."""


class SmtpEmailChannel:
    """Sends one plain-text email per call, a fresh connection each time so threads
    share nothing."""

    name = "secure-email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 10.0,
        attempts: int = 3,
        ssl_context: ssl.SSLContext | None = None,
        backoff_seconds: float = 0.5,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if username is not None and not starttls:
            raise ValueError("an SMTP login needs STARTTLS: never a password in clear")
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout_seconds, self.attempts = timeout_seconds, attempts
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.backoff_seconds = backoff_seconds

    def send(self, contact: str, desk_name: str, link: str) -> str:
        """Send and return the Message-ID; NotificationFailed once it cannot be sent."""
        if not _ADDRESS.fullmatch(contact):
            raise NotificationFailed(True, "not an email address")
        message = self._message(contact, desk_name, link)
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
                    self._deliver(message, contact)
        except _Temporary as exc:
            raise NotificationFailed(
                False, f"{redact(str(exc), contact)} (after {self.attempts} attempts)"
            ) from exc
        return str(message["Message-ID"])

    def _message(self, contact: str, desk_name: str, link: str) -> EmailMessage:
        said = words(desk_name, link)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = contact
        message["Subject"] = said.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[1])
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(said.body)
        return message

    def _deliver(self, message: EmailMessage, contact: str) -> None:
        """One attempt. Classifies every failure as temporary or permanent."""
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
            try:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self.ssl_context)
                    smtp.ehlo()
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                smtp.send_message(message, from_addr=self.sender, to_addrs=[contact])
            finally:
                # Once the relay took the message a failing QUIT must not fail the send
                # (a retry would send it twice).
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()
                smtp.close()
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._refused(code, reply, contact)
        except smtplib.SMTPResponseException as exc:
            self._refused(exc.smtp_code, exc.smtp_error, contact)
        except smtplib.SMTPNotSupportedError as exc:
            raise NotificationFailed(True, f"smtp: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            raise NotificationFailed(True, f"smtp: relay certificate refused: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _Temporary(f"smtp: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _refused(code: int, reply: bytes | str, contact: str) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        detail = redact(f"smtp {code}: {text}", contact)
        if 400 <= code < 500:
            raise _Temporary(detail)
        raise NotificationFailed(True, detail)
