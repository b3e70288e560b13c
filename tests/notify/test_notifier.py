"""The notifier as the escalation clock will call it: settings from the environment,
every channel a person chose, each outcome for the audit trail."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.notify import (
    Channel,
    Contacts,
    Delivery,
    NotificationFailed,
    Notifier,
    NotifySettings,
    UnsafeWords,
    load_notify_settings,
    notify_variable_names,
)
from tests.notify.notify_server import (
    API_KEY,
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    FakeNotify,
    notify_server,
)
from tests.notify.smtp_server import RecordingHandler, Tls, self_signed, smtp_server
from tests.notify.test_words import DESKS, record_like

BASE = "https://gateway.example"
ITEM = "0192f3a4-5b6c-7d8e-9f01-23456789abcd"
DESK = "North PDU probation SPOC"
SPOC = Contacts(
    email="probation.spoc.north@justice.gov.uk.cjsm.net",
    mobile="07700900123",
    channels=frozenset(Channel),
)


@dataclass
class Services:
    smtp: RecordingHandler
    notify: FakeNotify
    tls: Tls
    env: dict[str, str]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    handler, fake, tls = RecordingHandler(), FakeNotify(), self_signed(tmp_path)
    with (
        smtp_server(handler, tls=tls, credentials=("isg-relay", "relay-pass")) as port,
        notify_server(fake) as base_url,
    ):
        yield Services(
            handler,
            fake,
            tls,
            {
                "GATEWAY_NOTIFY_PUBLIC_BASE_URL": BASE,
                "GATEWAY_NOTIFY_SMTP_HOST": "127.0.0.1",
                "GATEWAY_NOTIFY_SMTP_PORT": str(port),
                "GATEWAY_NOTIFY_SMTP_CA_FILE": str(tls.ca_file),
                "GATEWAY_NOTIFY_SMTP_USERNAME": "isg-relay",
                "GATEWAY_NOTIFY_SMTP_PASSWORD": "relay-pass",
                "GATEWAY_NOTIFY_SMTP_FROM": "isg-gateway@cheshire.police.cjsm.net",
                "GATEWAY_NOTIFY_API_KEY": API_KEY,
                "GATEWAY_NOTIFY_BASE_URL": base_url,
                "GATEWAY_NOTIFY_EMAIL_TEMPLATE_ID": EMAIL_TEMPLATE,
                "GATEWAY_NOTIFY_SMS_TEMPLATE_ID": SMS_TEMPLATE,
                "GATEWAY_NOTIFY_ATTEMPTS": "2",
            },
        )


def notifier_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Notifier:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Notifier.from_settings(load_notify_settings(), backoff_seconds=0.01)


def test_every_channel_from_the_environment(services: Services, monkeypatch: pytest.MonkeyPatch):
    notifier = notifier_from(services.env, monkeypatch)
    notified = notifier.notify(SPOC, DESK, ITEM)
    assert notified.link == f"{BASE}/inbox/{ITEM}"
    assert [d.channel for d in notified.sent] == [
        Channel.SECURE_EMAIL, Channel.NOTIFY_EMAIL, Channel.NOTIFY_SMS
    ]  # fmt: skip
    assert notified.told and notified.failed == ()
    [email] = services.smtp.received
    assert email.tls and email.login == "isg-relay"
    assert email.message["Subject"] == f"An urgent alert is waiting for {DESK}"
    assert notified.sent[0].message_id == email.message["Message-ID"]
    assert [r["kind"] for r in services.notify.requests] == ["email", "sms"]
    audit = notified.as_audit()
    assert [a["status"] for a in audit] == ["sent"] * 3
    assert SPOC.email not in json.dumps(audit) and SPOC.mobile not in json.dumps(audit)


def test_only_the_channels_the_person_chose(services: Services, monkeypatch: pytest.MonkeyPatch):
    notifier = notifier_from(services.env, monkeypatch)
    sms_only = Contacts(mobile="07700900123", channels=frozenset({Channel.NOTIFY_SMS}))
    notified = notifier.notify(sms_only, DESK, ITEM)
    assert [(d.channel, d.status) for d in notified.deliveries] == [(Channel.NOTIFY_SMS, "sent")]
    assert services.smtp.received == []
    assert [r["kind"] for r in services.notify.requests] == ["sms"]


def test_a_chosen_channel_without_a_contact_or_configuration_is_skipped(
    services: Services, monkeypatch: pytest.MonkeyPatch
):
    env = {k: v for k, v in services.env.items() if k != "GATEWAY_NOTIFY_SMS_TEMPLATE_ID"}
    notifier = notifier_from(env, monkeypatch)
    no_email = Contacts(mobile="07700900123", channels=frozenset(Channel))
    notified = notifier.notify(no_email, DESK, ITEM)
    assert notified.deliveries == (
        Delivery(Channel.SECURE_EMAIL, "skipped", detail="no contact for it"),
        Delivery(Channel.NOTIFY_EMAIL, "skipped", detail="no contact for it"),
        Delivery(Channel.NOTIFY_SMS, "skipped", detail="channel not configured"),
    )
    assert not notified.told


def test_one_channel_failing_does_not_stop_the_others(
    services: Services, monkeypatch: pytest.MonkeyPatch
):
    services.smtp.rcpt_replies = ["550 5.1.1 Recipient address rejected"]
    services.notify.fail_first = [503, 503]  # the Notify email, both attempts
    notified = notifier_from(services.env, monkeypatch).notify(SPOC, DESK, ITEM)
    assert [(d.channel, d.status, d.permanent) for d in notified.deliveries] == [
        (Channel.SECURE_EMAIL, "failed", True),
        (Channel.NOTIFY_EMAIL, "failed", False),
        (Channel.NOTIFY_SMS, "sent", False),
    ]
    assert notified.told
    assert notified.as_audit()[0] == {
        "channel": "secure-email",
        "status": "failed",
        "permanent": True,
        "detail": "smtp 550: 5.1.1 Recipient address rejected",
    }


def test_unsafe_words_are_refused_before_any_channel(
    services: Services, monkeypatch: pytest.MonkeyPatch
):
    notifier = notifier_from(services.env, monkeypatch)
    with pytest.raises(UnsafeWords):
        notifier.notify(SPOC, DESK, "CHE-2026-000123")
    with pytest.raises(UnsafeWords):
        notifier.notify(SPOC, "North PDU\r\nBcc: x@example.org", ITEM)
    assert services.smtp.data_commands == 0 and services.notify.attempts == 0


def test_nothing_configured_is_off_and_says_so_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    for name in notify_variable_names():
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="gateway.notify"):
        notifier = Notifier.from_settings(load_notify_settings())
        notified = [notifier.notify(SPOC, DESK, ITEM) for _ in range(3)]
    assert not notifier.enabled
    off = [r for r in caplog.records if "notifications are off" in r.getMessage()]
    assert len(off) == 1
    assert all(d.status == "skipped" for n in notified for d in n.deliveries)
    assert notified[0].link is None


@pytest.mark.parametrize("seed", range(20))
def test_nothing_of_a_record_goes_on_the_wire(
    seed: int, services: Services, monkeypatch: pytest.MonkeyPatch
):
    """Whatever record raised the alert, the caller can only hand over a desk name and
    an item id; what the services receive holds nothing else."""
    rng = random.Random(seed)
    record = record_like(rng)
    desk, item = rng.choice(DESKS), str(uuid.UUID(int=rng.getrandbits(128)))
    notified = notifier_from(services.env, monkeypatch).notify(SPOC, desk, item)
    assert len(notified.sent) == 3
    wire = [services.smtp.received[0].raw.decode()] + [
        json.dumps(r) for r in services.notify.requests
    ]
    for sent in wire:
        assert desk in sent and item in sent
        for value in record.values():
            assert value not in sent
    for request in services.notify.requests:
        assert request["personalisation"] == {"desk_name": desk, "link": f"{BASE}/inbox/{item}"}


def test_threads_share_one_notifier(services: Services, monkeypatch: pytest.MonkeyPatch):
    notifier = notifier_from(services.env, monkeypatch)
    results = []
    lock = threading.Lock()

    def notify() -> None:
        notified = notifier.notify(SPOC, DESK, str(uuid.uuid4()))
        with lock:
            results.append(notified)

    threads = [threading.Thread(target=notify) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(n.sent) == 3 for n in results)
    assert len(services.smtp.received) == 6 and len(services.notify.requests) == 12


# Settings.


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"smtp_host": "relay.example", "public_base_url": BASE}, "smtp_host needs smtp_from"),
        (
            {"smtp_host": "r", "smtp_from": "a@b.example", "smtp_username": "u",
             "public_base_url": BASE},
            "go together",
        ),
        (
            {"smtp_host": "r", "smtp_from": "a@b.example", "smtp_username": "u",
             "smtp_password": "p", "smtp_starttls": False, "public_base_url": BASE},
            "never a password in clear",
        ),
        ({"smtp_host": "r", "smtp_from": "a@b.example"}, "needs public_base_url"),
        ({"smtp_from": "Gateway <a@b.example>"}, "bare address"),
        ({"api_key": "not-a-key"}, "not a Notify key"),
        ({"api_key": API_KEY, "public_base_url": BASE}, "needs email_template_id"),
        ({"sms_template_id": SMS_TEMPLATE}, "needs api_key"),
        ({"email_template_id": "welcome-email"}, "pattern"),
        ({"public_base_url": "http://gateway.example"}, "must be https"),
        ({"public_base_url": "https://gateway.example/?x=1"}, "no query"),
        ({"base_url": "http://api.notifications.service.gov.uk"}, "must be https"),
    ],
)  # fmt: skip
def test_half_a_channel_is_an_error(
    settings: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
):
    for name in notify_variable_names():
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match=message):
        NotifySettings(**settings)  # type: ignore[arg-type]


def test_a_misspelt_variable_is_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GATEWAY_NOTIFY_SMTP_HOTS", "relay.example")
    with pytest.raises(ValueError, match="GATEWAY_NOTIFY_SMTP_HOTS"):
        load_notify_settings()


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch):
    settings = NotifySettings(
        public_base_url=BASE,
        api_key=API_KEY,  # type: ignore[arg-type]
        email_template_id=EMAIL_TEMPLATE,
    )
    assert API_KEY not in repr(settings) and API_KEY not in str(settings.model_dump())


def test_the_variable_names():
    assert {
        "GATEWAY_NOTIFY_PUBLIC_BASE_URL",
        "GATEWAY_NOTIFY_SMTP_HOST",
        "GATEWAY_NOTIFY_API_KEY",
        "GATEWAY_NOTIFY_SMS_TEMPLATE_ID",
    } <= notify_variable_names()
    assert all(n.startswith("GATEWAY_NOTIFY_") for n in notify_variable_names())


def test_a_failure_reads_as_what_it_is():
    assert str(NotificationFailed(True, "smtp 550: no")) == "permanent failure: smtp 550: no"
    assert str(NotificationFailed(False, "smtp 451")) == "temporary failure: smtp 451"
