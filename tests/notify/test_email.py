"""Secure email against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from gateway.embedded.broker import free_port
from gateway.notify import NotificationFailed, SmtpEmailChannel
from tests.notify.smtp_server import RecordingHandler, Tls, self_signed, smtp_server

SENDER = "isg-gateway@cheshire.police.cjsm.net"
SPOC = "probation.spoc.north@justice.gov.uk.cjsm.net"
DESK = "North PDU probation SPOC"
LINK = f"https://gateway.example/inbox/{uuid.UUID(int=7)}"


def channel(port: int, **options: object) -> SmtpEmailChannel:
    settings: dict[str, object] = dict(
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        starttls=False,
        timeout_seconds=5.0,
        attempts=3,
        backoff_seconds=0.01,
    )
    settings.update(options)
    return SmtpEmailChannel(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return self_signed(Path(tmp_path_factory.mktemp("smtp-tls")))


def test_the_message_says_who_should_look_and_where_and_nothing_else():
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        message_id = channel(port).send(SPOC, DESK, LINK)
    [received] = handler.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == [SPOC]
    message = received.message
    assert message["From"] == SENDER
    assert message["To"] == SPOC
    assert message["Subject"] == "An urgent alert is waiting for North PDU probation SPOC"
    assert message["Message-ID"] == message_id
    assert message["Auto-Submitted"] == "auto-generated"
    assert not message.is_multipart()
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == (
        "An urgent alert is waiting for North PDU probation SPOC.\n"
        "\n"
        "Open it in the information-sharing gateway:\n"
        f"{LINK}\n"
        "\n"
        "This message holds no details of the alert: sign in to read it.\n"
    )


def test_starttls_and_login(tls: Tls):
    handler = RecordingHandler()
    with smtp_server(handler, tls=tls, credentials=("isg-relay", "s3cret-relay")) as port:
        channel(
            port,
            starttls=True,
            ssl_context=tls.client(),
            username="isg-relay",
            password="s3cret-relay",
        ).send(SPOC, DESK, LINK)
    [received] = handler.received
    assert received.tls
    assert received.login == "isg-relay"


def test_a_wrong_password_is_permanent_and_tried_once(tls: Tls):
    handler = RecordingHandler()
    with smtp_server(handler, tls=tls, credentials=("isg-relay", "s3cret-relay")) as port:
        sender = channel(
            port, starttls=True, ssl_context=tls.client(), username="isg-relay", password="wrong"
        )
        with pytest.raises(NotificationFailed) as failed:
            sender.send(SPOC, DESK, LINK)
    assert failed.value.permanent
    assert "535" in failed.value.detail
    assert handler.received == []


def test_an_untrusted_relay_certificate_is_permanent(tls: Tls):
    with smtp_server(RecordingHandler(), tls=tls) as port:
        sender = channel(port, starttls=True)  # the system's CAs: the test CA is not one
        with pytest.raises(NotificationFailed) as failed:
            sender.send(SPOC, DESK, LINK)
    assert failed.value.permanent
    assert "certificate" in failed.value.detail


def test_starttls_required_but_not_offered_is_permanent():
    handler = RecordingHandler()
    with smtp_server(handler) as port, pytest.raises(NotificationFailed) as failed:
        channel(port, starttls=True).send(SPOC, DESK, LINK)
    assert failed.value.permanent
    assert "STARTTLS" in failed.value.detail
    assert handler.received == []


def test_a_temporary_failure_is_retried_and_the_message_arrives_once():
    handler = RecordingHandler(data_replies=["451 4.3.0 Mail server temporarily rejected message"])
    with smtp_server(handler) as port:
        message_id = channel(port).send(SPOC, DESK, LINK)
    assert handler.data_commands == 2
    [received] = handler.received
    assert received.message["Message-ID"] == message_id


def test_a_temporary_failure_every_time_is_a_temporary_notification_failure():
    handler = RecordingHandler(data_replies=["451 4.3.0 Try again later"] * 5)
    with smtp_server(handler) as port, pytest.raises(NotificationFailed) as failed:
        channel(port, attempts=3).send(SPOC, DESK, LINK)
    assert not failed.value.permanent
    assert handler.data_commands == 3
    assert "451" in failed.value.detail and "after 3 attempts" in failed.value.detail


def test_a_permanent_refusal_is_not_retried_and_names_no_address():
    handler = RecordingHandler(rcpt_replies=[f"550 5.1.1 <{SPOC}>: Recipient address rejected"])
    with smtp_server(handler) as port, pytest.raises(NotificationFailed) as failed:
        channel(port).send(SPOC, DESK, LINK)
    assert failed.value.permanent
    assert failed.value.detail == "smtp 550: 5.1.1 <<recipient>>: Recipient address rejected"
    assert SPOC not in str(failed.value)
    assert handler.data_commands == 0


def test_a_permanent_refusal_of_the_message_is_not_retried():
    handler = RecordingHandler(data_replies=["554 5.7.1 Message rejected by policy"])
    with smtp_server(handler) as port, pytest.raises(NotificationFailed) as failed:
        channel(port).send(SPOC, DESK, LINK)
    assert failed.value.permanent
    assert handler.data_commands == 1


def test_no_server_is_temporary_after_every_attempt():
    with pytest.raises(NotificationFailed) as failed:
        channel(free_port(), attempts=2).send(SPOC, DESK, LINK)
    assert not failed.value.permanent
    assert "ConnectionRefusedError" in failed.value.detail
    assert "after 2 attempts" in failed.value.detail


@pytest.mark.parametrize(
    "contact",
    [
        "not an address",
        f"{SPOC}\r\nRCPT TO:<someone@else.example>",
        f"{SPOC}, someone@else.example",
        "",
    ],
)
def test_a_contact_that_is_not_one_address_is_refused_before_connecting(contact: str):
    handler = RecordingHandler()
    with smtp_server(handler) as port, pytest.raises(NotificationFailed) as failed:
        channel(port).send(contact, DESK, LINK)
    assert failed.value.permanent
    assert handler.data_commands == 0


def test_a_login_without_starttls_is_refused():
    with pytest.raises(ValueError, match="STARTTLS"):
        channel(25, starttls=False, username="u", password="p")


def test_threads_share_one_channel():
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        sender = channel(port)
        ids: list[str] = []
        lock = threading.Lock()

        def send(n: int) -> None:
            message_id = sender.send(f"spoc{n}@justice.gov.uk.cjsm.net", DESK, LINK)
            with lock:
                ids.append(message_id)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(set(ids)) == 8
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(
        f"spoc{n}@justice.gov.uk.cjsm.net" for n in range(8)
    )


def test_a_relay_that_never_answers_times_out_as_temporary():
    with socket.socket() as silent:  # listens, never accepts: no banner ever comes
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        sender = channel(silent.getsockname()[1], timeout_seconds=0.2, attempts=2)
        started = time.monotonic()
        with pytest.raises(NotificationFailed) as failed:
            sender.send(SPOC, DESK, LINK)
    assert not failed.value.permanent
    assert "Timeout" in failed.value.detail or "timed out" in failed.value.detail
    assert time.monotonic() - started < 3
