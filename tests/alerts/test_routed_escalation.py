"""The clock takes its steps from the routing rules, and each step taken tells the
people of the next desk, by secure email on loopback, with no personal data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.alerts import escalate_due
from gateway.alerts.people import routed_steps, tell_the_next_desk
from gateway.notify import Channel, Notifier, SmtpEmailChannel
from gateway.policy import load_bundle
from gateway.routing import load_routes
from gateway.store.tables import alert_clocks, audit_log
from tests.conftest import ROOT, recording_pipeline
from tests.notify.smtp_server import RecordingHandler, smtp_server

CHESHIRE = ROOT / "policies" / "cheshire-hru"
ALERT = ROOT / "examples" / "fhir" / "suicidal-ideation-alert-message.json"


def test_a_crisis_alert_escalates_to_the_duty_manager_who_is_told(fresh_store):
    bundle = load_bundle(CHESHIRE)
    routes = load_routes(CHESHIRE / "routes", bundle)
    pipeline = recording_pipeline(fresh_store, bundle)
    pipeline.steps_for = routed_steps(lambda: routes)
    submission = pipeline.submit(
        "fhir", ALERT.read_bytes(), "application/fhir+json", "cwp-mental-health"
    )
    exchange_id = submission.items[0].exchange_id

    with fresh_store.engine.connect() as conn:
        clock = conn.execute(sa.select(alert_clocks)).mappings().one()
    steps = clock["steps"] if isinstance(clock["steps"], list) else json.loads(clock["steps"])
    # The crisis line's own route (policies/cheshire-hru/routes/routes.yaml): its duty
    # practitioner, then the duty manager, 15 minutes each.
    assert [(s["desk"], s["seconds"]) for s in steps] == [
        ("crisis-line", 900.0),
        ("crisis-line-manager", 900.0),
    ]

    handler = RecordingHandler()
    with smtp_server(handler) as port:
        channel = SmtpEmailChannel(
            host="127.0.0.1", port=port, sender="isg@gateway.example", starttls=False
        )
        notifier = Notifier("https://gateway.example", {Channel.SECURE_EMAIL: channel})
        later = datetime.now(UTC) + timedelta(minutes=16)
        (step,) = escalate_due(fresh_store, later)
        assert (step.desk, step.party) == ("crisis-line-manager", "nhs-crisis-line")
        tell_the_next_desk(fresh_store, lambda: routes, notifier, step)

    (email,) = handler.received
    assert email.rcpt_tos == ["crisis-manager@cwp.example"]
    body = email.message.get_content()
    assert f"https://gateway.example/inbox/{step.clock_id}" in body
    record = ALERT.read_text()
    for personal in ("Marsh", "9990001006", "1985-03-02", "HRU-2026-0142"):
        assert personal in record and personal not in body and personal not in email.raw.decode()
    with fresh_store.engine.connect() as conn:
        told = conn.execute(
            sa.select(audit_log.c.details).where(
                audit_log.c.exchange_id == exchange_id, audit_log.c.action == "notification"
            )
        ).scalar_one()
    assert "crisis-manager@cwp.example" not in told
    assert json.loads(told)["told"][0]["desk"] == "crisis-line-manager"


def test_a_running_gateway_tells_the_on_duty_desk_at_once(broker, tmp_path, monkeypatch):
    """An alert accepted: within moments the people of the desk the routing rules
    chose (the crisis line's duty practitioner, day or night) have an email."""
    import time

    from tests.alerts.test_acknowledge_api import raise_alert
    from tests.conftest import start_gateway

    handler = RecordingHandler()
    with smtp_server(handler) as port:
        for name, value in {
            "GATEWAY_NOTIFY_PUBLIC_BASE_URL": "https://gateway.example",
            "GATEWAY_NOTIFY_SMTP_HOST": "127.0.0.1",
            "GATEWAY_NOTIFY_SMTP_PORT": str(port),
            "GATEWAY_NOTIFY_SMTP_STARTTLS": "false",
            "GATEWAY_NOTIFY_SMTP_FROM": "isg@gateway.example",
        }.items():
            monkeypatch.setenv(name, value)
        running, server, thread = start_gateway(
            "sqlite",
            f"sqlite:///{tmp_path / 'gw.db'}",
            broker.bootstrap,
            tmp_path,
            escalation_check_seconds=0.1,
        )
        try:
            exchange_id = raise_alert(running)
            deadline = time.monotonic() + 10
            while not handler.received and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            running.runtime.stop()
    (email,) = handler.received
    assert email.rcpt_tos == ["crisis-line@cwp.example"]
    assert "Marsh" not in email.raw.decode()
    with running.store.engine.connect() as conn:
        told = conn.execute(
            sa.select(audit_log.c.details).where(
                audit_log.c.exchange_id == exchange_id, audit_log.c.action == "notification"
            )
        ).scalar_one()
    assert json.loads(told)["told"][0]["desk"] == "crisis-line"
