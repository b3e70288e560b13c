"""``/metrics`` after real traffic, read with prometheus_client's own parser: requests
by route template and status, exchanges by format and decision, denials by rule,
rejected records, deliveries and a dead letter by channel, the backlog, the policy in
force, the broker and the store; an alert's acknowledgement and escalation. Counters
are process-wide, so each test compares a scrape after its traffic with one before."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.delivery import outbox
from gateway.policy import LivePolicy
from gateway.store.tables import alert_clocks
from gateway.telemetry.exposition import State, render
from tests.conftest import ROOT, enqueue_deliveries
from tests.telemetry.conftest import (
    ANSWERING,
    FAILING,
    PARTNER,
    POLICE_SAMPLE,
    Series,
    parse,
    sample_values,
    scrape,
    value,
)

INBOUND = "/v1/inbound/{fmt}"
ALERT = ROOT / "examples" / "fhir" / "suicidal-ideation-alert-message.json"


def _until(gateway, check, timeout: float = 15.0) -> dict[Series, float]:
    """Scrape until ``check(series)`` holds (the relay's work lands a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        series = scrape(gateway)
        if check(series) or time.monotonic() > deadline:
            return series
        time.sleep(0.1)


def test_metrics_after_an_accepted_a_denied_and_a_rejected_record(pushing_gateway):
    gateway, _answering, _failing = pushing_gateway
    before = scrape(gateway)
    sample = json.loads(POLICE_SAMPLE.read_text())
    nobody = {**sample, "purpose": "mappa-offender-management"}  # no flow shares it
    invalid = {**sample, "purpose": "no-such-purpose"}
    with gateway.client("cheshire-police") as client:
        answers = [
            client.post("/v1/inbound/police", content=json.dumps(body), headers=PARTNER)
            for body in (sample, nobody, invalid)
        ]
    assert [a.status_code for a in answers] == [202, 202, 422], answers[-1].text
    accepted, denied = answers[0].json(), answers[1].json()
    assert accepted["recipients"] and not denied["recipients"]
    copies = len(accepted["recipients"])

    def delta(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    def settled(series: dict[Series, float]) -> bool:
        dead = value(series, "isg_relay_dead_lettered_total", channel="webhook")
        return dead > value(before, "isg_relay_dead_lettered_total", channel="webhook")

    gateway.wait_drained()
    after = _until(gateway, settled)

    # Requests by route template and status, and their latency.
    post = {"method": "POST", "route": INBOUND}
    assert delta("isg_http_requests_total", **post, status="202") == 2
    assert delta("isg_http_requests_total", **post, status="422") == 1
    assert delta("isg_http_request_duration_seconds_count", **post) == 3
    assert delta("isg_http_request_duration_seconds_bucket", **post, le="+Inf") == 3
    assert delta("isg_http_request_duration_seconds_sum", **post) > 0

    # Exchanges by format and decision; each refusal by the rule that decided it.
    assert delta("isg_exchanges_total", format="police", decision="permit") == 1
    assert delta("isg_exchanges_total", format="police", decision="deny") == 1
    assert delta("isg_records_rejected_total", format="police") == 1
    refusals: dict[str, int] = {}
    for answer in (accepted, denied):
        for decision in answer["decisions"]:
            if decision["effect"] == "deny":
                rule = decision["rules"][0]
                refusals[rule] = refusals.get(rule, 0) + 1
    assert refusals.get("default-deny", 0) > 0
    assert {rule: delta("isg_denials_total", rule=rule) for rule in refusals} == refusals

    # Deliveries by channel: a copy per recipient on Kafka, one webhook answered, one
    # dead-lettered; each delivery timed from its commit.
    assert delta("isg_relay_delivered_total", channel="kafka") == copies
    assert delta("isg_delivery_seconds_count", channel="kafka") == copies
    assert delta("isg_relay_delivered_total", channel="webhook") == 1
    assert delta("isg_relay_dead_lettered_total", channel="webhook") == 1
    assert delta("isg_dead_letters_open") == 1

    # Read at scrape time: the backlog, the policy in force, the broker and the store.
    assert value(after, "isg_outbox_pending") == 0
    assert value(after, "isg_outbox_oldest_pending_age_seconds") == 0
    bundle = gateway.runtime.bundle
    info = {"version": accepted["policy_version"], "agreement": bundle.agreement_id}
    assert value(after, "isg_policy_info", **info, agreement_version=bundle.agreement_version)
    assert value(after, "isg_broker_available") == 1
    assert value(after, "isg_store_available") == 1

    # No series names a record's value or an exchange: labels are bounded sets.
    labels = {v for (_family, _name, pairs) in after for _key, v in pairs}
    assert not labels & sample_values()
    assert accepted["exchange_id"] not in labels and denied["exchange_id"] not in labels
    assert {ANSWERING, FAILING}.isdisjoint(labels)


def test_an_alerts_escalation_and_acknowledgement_are_counted(pushing_gateway):
    """A passed deadline escalates the alert (counted), and its acknowledgement after
    that lands in the time-to-acknowledge histogram as escalated."""
    gateway, _answering, _failing = pushing_gateway
    before = scrape(gateway)
    with gateway.client("cwp-mental-health") as client:
        raised = client.post(
            "/v1/inbound/fhir",
            content=ALERT.read_bytes(),
            headers={"Content-Type": "application/fhir+json"},
        )
    assert raised.status_code == 202, raised.text
    exchange_id = raised.json()["exchange_id"]
    with gateway.store.transaction() as conn:
        conn.execute(
            alert_clocks.update()
            .where(alert_clocks.c.exchange_id == exchange_id)
            .values(deadline=datetime.now(UTC) - timedelta(seconds=1))
        )

    def escalated(series: dict[Series, float]) -> bool:
        counted = sum(
            value(series, "isg_escalations_total", outcome=o) for o in ("next-step", "exhausted")
        )
        return counted > sum(
            value(before, "isg_escalations_total", outcome=o) for o in ("next-step", "exhausted")
        )

    assert escalated(_until(gateway, escalated)), "the passed deadline was not escalated"
    with gateway.store.engine.connect() as conn:
        step = conn.execute(
            sa.select(alert_clocks.c.step).where(alert_clocks.c.exchange_id == exchange_id)
        ).scalar_one()
    assert step >= 1
    with gateway.client("nhs-crisis-line") as client:
        acknowledged = client.post(f"/v1/exchanges/{exchange_id}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    after = scrape(gateway)
    counted = "isg_alert_time_to_acknowledge_seconds_count"
    assert value(after, counted, escalated="true") == value(before, counted, escalated="true") + 1
    waited = "isg_alert_time_to_acknowledge_seconds_sum"
    assert value(after, waited, escalated="true") > value(before, waited, escalated="true")


def test_the_backlog_and_its_oldest_row_are_read_from_the_store(fresh_store):
    """What waits in the outbox, however many relays there are: the count and how long
    the oldest has waited, and the dead letters nobody replayed."""
    policy = LivePolicy(ROOT / "policies" / "cheshire-hru")
    state = State(fresh_store, policy, lambda: False)
    empty = parse(render(state).decode())
    assert value(empty, "isg_outbox_pending") == 0
    assert value(empty, "isg_outbox_oldest_pending_age_seconds") == 0
    assert value(empty, "isg_broker_available") == 0

    enqueue_deliveries(fresh_store, ["a", "b", "c"])
    with fresh_store.transaction() as conn:
        conn.execute(
            sa.text("UPDATE outbox SET created_at = :at"),
            {"at": datetime.now(UTC) - timedelta(minutes=5)},
        )
        count, oldest = outbox.backlog(conn)
    assert count == 3 and oldest is not None
    waiting = parse(render(state).decode())
    assert value(waiting, "isg_outbox_pending") == 3
    assert 300 <= value(waiting, "isg_outbox_oldest_pending_age_seconds") < 360
    assert value(waiting, "isg_dead_letters_open") == 0
    assert value(waiting, "isg_store_available") == 1


def test_a_store_that_does_not_answer_is_shown_not_failed(tmp_path):
    """The scrape still answers: the store's gauges are left out, isg_store_available 0."""
    from gateway.store import Store

    missing = Store.from_url(f"sqlite:///{tmp_path / 'no-such-dir' / 'gateway.db'}")
    state = State(missing, LivePolicy(ROOT / "policies" / "cheshire-hru"), lambda: True)
    series = parse(render(state).decode())
    assert value(series, "isg_store_available") == 0
    assert not [s for s in series if s[0] == "isg_outbox_pending"]
    assert value(series, "isg_broker_available") == 1
