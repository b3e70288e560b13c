"""Acknowledgement clocks in the store: acknowledged by the recipient only, escalated
step by step when not, across restarts, and never twice by two processes."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.alerts import (
    ACKNOWLEDGED,
    EXHAUSTED,
    WAITING,
    NoClock,
    Step,
    acknowledge,
    escalate_due,
    trail,
)
from gateway.alerts.clock import clock_row
from gateway.store import Store
from gateway.store.tables import INSERT_CLOCKS, audit_log, exchanges
from tests.conftest import exchange_row

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
CHAIN = [
    Step("north-spoc-duty", "probation-spoc-north", timedelta(minutes=15), "in hours"),
    Step("north-spoc-manager", "probation-spoc-north", timedelta(minutes=15), "escalation"),
    Step("control-room", "cheshire-control-room", timedelta(minutes=10), "fallback"),
]


def start_clock(store: Store, steps: list[Step] = CHAIN) -> str:
    exchange_id = str(uuid.uuid4())
    with store.transaction() as conn:
        conn.execute(exchanges.insert().values(**exchange_row(exchange_id)))
        conn.execute(INSERT_CLOCKS, [clock_row(exchange_id, "probation-spoc-north", steps, T0)])
    return exchange_id


def audit_actions(store: Store, exchange_id: str) -> list[tuple[str, dict]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.details)
            .where(audit_log.c.exchange_id == exchange_id)
            .order_by(audit_log.c.seq)
        ).all()
    return [(action, json.loads(details)) for action, details in rows]


def state(store: Store, exchange_id: str) -> dict:
    with store.engine.connect() as conn:
        (clock,) = trail(conn, exchange_id)
    return clock


def test_nothing_happens_before_the_deadline(fresh_store):
    exchange_id = start_clock(fresh_store)
    assert escalate_due(fresh_store, T0 + timedelta(minutes=14, seconds=59)) == []
    clock = state(fresh_store, exchange_id)
    assert (clock["status"], clock["step"], clock["desk"]) == (WAITING, 0, "north-spoc-duty")
    assert clock["deadline"] == (T0 + timedelta(minutes=15)).isoformat()


def test_each_passed_deadline_escalates_to_the_next_step_then_runs_out(fresh_store):
    exchange_id = start_clock(fresh_store)
    first = escalate_due(fresh_store, T0 + timedelta(minutes=15))
    assert [(s.step, s.desk) for s in first] == [(1, "north-spoc-manager")]
    assert state(fresh_store, exchange_id)["deadline"] == (T0 + timedelta(minutes=30)).isoformat()
    second = escalate_due(fresh_store, T0 + timedelta(minutes=30))
    assert [(s.step, s.desk, s.party) for s in second] == [
        (2, "control-room", "cheshire-control-room")
    ]
    last = escalate_due(fresh_store, T0 + timedelta(minutes=40))
    assert [(s.step, s.exhausted) for s in last] == [(3, True)]
    assert escalate_due(fresh_store, T0 + timedelta(hours=5)) == []  # nothing left to take
    clock = state(fresh_store, exchange_id)
    assert clock["status"] == EXHAUSTED and clock["desk"] is None
    escalations = [d for a, d in audit_actions(fresh_store, exchange_id) if a == "escalation"]
    assert [(d["from_desk"], d["to_desk"]) for d in escalations] == [
        ("north-spoc-duty", "north-spoc-manager"),
        ("north-spoc-manager", "control-room"),
        ("control-room", None),
    ]


def test_acknowledgement_stops_the_clock(fresh_store):
    exchange_id = start_clock(fresh_store)
    escalate_due(fresh_store, T0 + timedelta(minutes=15))  # now with the manager
    done = acknowledge(
        fresh_store,
        exchange_id,
        "probation-spoc-north",
        "person:spoc-7",
        T0 + timedelta(minutes=20),
    )
    assert not done.already
    assert escalate_due(fresh_store, T0 + timedelta(hours=1)) == []
    clock = state(fresh_store, exchange_id)
    assert clock["status"] == ACKNOWLEDGED and clock["step"] == 1
    assert clock["acknowledged_by"] == "person:spoc-7"
    again = acknowledge(fresh_store, exchange_id, "probation-spoc-north", "person:other", T0)
    assert again.already and again.acknowledged_by == "person:spoc-7"
    acks = [d for a, d in audit_actions(fresh_store, exchange_id) if a == "acknowledgement"]
    assert acks == [
        {"by": "person:spoc-7", "desk": "north-spoc-manager", "status_before": WAITING, "step": 1}
    ]


def test_only_the_recipient_can_acknowledge(fresh_store):
    exchange_id = start_clock(fresh_store)
    for party in ("cheshire-police", "cheshire-control-room"):
        try:
            acknowledge(fresh_store, exchange_id, party, "client:x", T0)
        except NoClock:
            continue
        raise AssertionError(f"{party} acknowledged a copy it did not receive")
    assert state(fresh_store, exchange_id)["status"] == WAITING


def test_the_clock_survives_a_restart(fresh_store):
    start_clock(fresh_store)
    escalate_due(fresh_store, T0 + timedelta(minutes=15))
    fresh_store.engine.dispose()
    restarted = Store.from_url(str(fresh_store.engine.url.render_as_string(hide_password=False)))
    try:
        taken = escalate_due(restarted, T0 + timedelta(minutes=30))
        assert [s.step for s in taken] == [2]
    finally:
        restarted.engine.dispose()


def test_two_processes_never_take_the_same_step_twice(fresh_store):
    url = fresh_store.engine.url.render_as_string(hide_password=False)
    ids = [start_clock(fresh_store) for _ in range(20)]
    stores = [Store.from_url(url) for _ in range(2)]
    taken: list[list] = [[], []]
    go = threading.Barrier(2)

    def run(i: int) -> None:
        go.wait()
        taken[i] = escalate_due(stores[i], T0 + timedelta(minutes=15))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.engine.dispose()
    steps = [(s.exchange_id, s.step) for got in taken for s in got]
    assert sorted(steps) == sorted((i, 1) for i in ids)  # each clock moved once, by one
    for exchange_id in ids:
        escalations = [a for a, _ in audit_actions(fresh_store, exchange_id) if a == "escalation"]
        assert escalations == ["escalation"]


def test_the_first_desk_is_told_at_once_and_each_desk_once(fresh_store):
    from gateway.alerts.clock import claim_untold

    exchange_id = start_clock(fresh_store)
    (first,) = claim_untold(fresh_store)
    assert (first.exchange_id, first.step, first.desk) == (exchange_id, 0, "north-spoc-duty")
    assert claim_untold(fresh_store) == []  # told already
    escalate_due(fresh_store, T0 + timedelta(minutes=15))
    (second,) = claim_untold(fresh_store)
    assert (second.step, second.desk) == (1, "north-spoc-manager")
    acknowledge(fresh_store, exchange_id, "probation-spoc-north", "person:x", T0)
    escalate_due(fresh_store, T0 + timedelta(hours=1))
    assert claim_untold(fresh_store) == []  # acknowledged: nobody more to tell


def test_two_processes_tell_each_desk_once(fresh_store):
    from gateway.alerts.clock import claim_untold

    url = fresh_store.engine.url.render_as_string(hide_password=False)
    ids = [start_clock(fresh_store) for _ in range(15)]
    stores = [Store.from_url(url) for _ in range(2)]
    claimed: list[list] = [[], []]
    go = threading.Barrier(2)

    def run(i: int) -> None:
        go.wait()
        claimed[i] = claim_untold(stores[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.engine.dispose()
    assert sorted(s.exchange_id for got in claimed for s in got) == sorted(ids)
