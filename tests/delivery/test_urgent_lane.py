"""Issue 17: each recipient's own urgent lane, from the API through the outbox to the
topic. Urgent copies never share a topic across recipients; an urgent record is not
held up behind a batch being ingested; the relay serves urgent rows before older
ordinary ones, and one subject's urgent rows leave together, in order."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.delivery import outbox
from gateway.delivery.channels import Outcome
from gateway.delivery.outbox import OutboxMessage
from gateway.delivery.reader import read_topic
from gateway.delivery.relay import FOLLOWS_A_FAILURE, Relay, deliver_in_order
from gateway.delivery.topics import urgent_topic
from gateway.store import Store
from gateway.store.tables import exchanges
from tests.conftest import EXAMPLES, exchange_row

LEASE = timedelta(seconds=30)


@pytest.fixture
def store(fresh_store: Store) -> Store:
    return fresh_store


def _enqueue(store: Store, rows: list[tuple[str, int]], destination: str = "t") -> list[str]:
    """One exchange with an outbox row per (message key, priority); their delivery ids."""
    ids = [str(uuid.uuid4()) for _ in rows]
    exchange_id = str(uuid.uuid4())
    with store.transaction() as conn:
        conn.execute(exchanges.insert().values(**exchange_row(exchange_id)))
        messages = [
            OutboxMessage(d, exchange_id, "r", "kafka", destination, key, "{}", {}, priority)
            for d, (key, priority) in zip(ids, rows, strict=True)
        ]
        outbox.enqueue(conn, outbox.outbox_rows(messages))
    return ids


def _claim(store: Store, lane: outbox.Lane, limit: int = 100) -> list[dict[str, Any]]:
    with store.transaction() as conn:
        return outbox.claim(conn, f"w-{lane}", limit, LEASE, lane=lane)


class _Recording:
    """A channel that notes what it delivered, in order; ordinary batches are slow."""

    name = "kafka"
    lease = LEASE
    batch = 200
    workers = 1

    def __init__(self, slow: float = 0.0, fail: set[str] | None = None) -> None:
        self.slow = slow
        self.fail = fail or set()
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def deliver(self, rows: list[dict[str, Any]]) -> list[Outcome]:
        if any(r["priority"] == 0 for r in rows):
            time.sleep(self.slow)
        outcomes = []
        for row in rows:
            if row["delivery_id"] in self.fail:
                outcomes.append(Outcome(row, False, error="refused"))
                continue
            with self.lock:
                self.sent.append(row["delivery_id"])
            outcomes.append(Outcome(row, True))
        return outcomes

    def close(self) -> None:
        pass


# -- the outbox ------------------------------------------------------------------------


def test_the_urgent_lane_claims_urgent_rows_only_and_the_ordinary_lane_the_rest(store):
    ordinary = _enqueue(store, [("a", 0), ("b", 0)])
    urgent = _enqueue(store, [("c", 9), ("d", 5)])
    assert [r["delivery_id"] for r in _claim(store, "urgent")] == urgent
    assert [r["delivery_id"] for r in _claim(store, "ordinary")] == ordinary


def test_one_subjects_consecutive_urgent_rows_are_claimed_together_in_order(store):
    ids = _enqueue(store, [("k1", 9), ("k1", 9), ("k2", 9), ("k1", 9)])
    claimed = _claim(store, "urgent")
    k1 = [r["delivery_id"] for r in claimed if r["message_key"] == "k1"]
    assert k1 == [ids[0], ids[1], ids[3]]
    assert len(claimed) == 4 and _claim(store, "urgent") == []


def test_urgent_rows_behind_a_held_or_ordinary_row_wait_for_it(store):
    """Followers are taken only behind a head this claim took: never past a row
    another worker holds, or an ordinary row earlier in the queue (a webhook)."""
    first, second = _enqueue(store, [("k1", 9), ("k1", 9)])
    with store.transaction() as conn:
        held = outbox.claim(conn, "other", 1, LEASE, lane="any")
    assert [r["delivery_id"] for r in held] == [first]
    assert _claim(store, "urgent") == []
    _enqueue(store, [("k2", 0), ("k2", 9)])
    assert _claim(store, "urgent") == []  # k2's ordinary head goes first
    with store.transaction() as conn:
        outbox.mark_all_sent(conn, [held[0]["id"]], "other")
    assert [r["delivery_id"] for r in _claim(store, "urgent")] == [second]


# -- the relay -------------------------------------------------------------------------


def test_rows_after_a_failed_one_of_their_subject_are_not_attempted(store):
    ids = _enqueue(store, [("k1", 9), ("k1", 9), ("k1", 9), ("k2", 9)])
    channel = _Recording(fail={ids[1]})
    outcomes = deliver_in_order(channel, _claim(store, "urgent"))
    assert channel.sent == [ids[0], ids[3]]
    skipped = [o.row["delivery_id"] for o in outcomes if o.error == FOLLOWS_A_FAILURE]
    assert skipped == [ids[2]]


def test_the_relay_sends_urgent_rows_before_older_ordinary_ones(store):
    ordinary = _enqueue(store, [(f"k{n}", 0) for n in range(300)])
    urgent = _enqueue(store, [("alert", 9)])
    channel = _Recording(slow=0.5)
    relay = Relay(store, [channel], poll_seconds=0.05)
    relay.start()
    try:
        deadline = time.monotonic() + 20
        while len(channel.sent) < len(ordinary) + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        relay.stop()
    assert sorted(channel.sent) == sorted(ordinary + urgent)
    assert channel.sent.index(urgent[0]) == 0


def test_one_subjects_urgent_rows_leave_in_order(store):
    ids = _enqueue(store, [("subject", 9 if n % 2 else 5) for n in range(12)])
    channel = _Recording()
    relay = Relay(store, [channel], poll_seconds=0.05)
    relay.start()
    try:
        deadline = time.monotonic() + 20
        while len(channel.sent) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        relay.stop()
    assert channel.sent == ids


# -- through the running gateway -------------------------------------------------------


def _screening_batch(rows: int) -> bytes:
    sample = (EXAMPLES / "police" / "daily-screening.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(sample))
    first = next(reader)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    for n in range(rows):
        writer.writerow(
            {**first, "occurrence_number": f"CC-2026-{n:06d}", "suspect_pnc_id": f"15/{n:06d}D"}
        )
    return out.getvalue().encode()


def test_an_urgent_record_is_answered_before_a_large_batch_sent_before_it(gateway):
    batch = _screening_batch(250)
    alert = (EXAMPLES / "fhir" / "suicidal-ideation-alert-message.json").read_bytes()
    finished: list[str] = []

    async def post(
        client: httpx.AsyncClient, name: str, fmt: str, body: bytes, headers: dict[str, str]
    ) -> None:
        answer = await client.post(f"/v1/inbound/{fmt}", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        finished.append(name)

    async def run() -> None:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
            batch_posted = asyncio.create_task(
                post(
                    client,
                    "batch",
                    "police",
                    batch,
                    {"Content-Type": "text/csv", **gateway.auth("cheshire-police")},
                )
            )
            await asyncio.sleep(0.15)  # the batch is being ingested
            await post(
                client,
                "alert",
                "fhir",
                alert,
                {"Content-Type": "application/fhir+json", **gateway.auth("cwp-mental-health")},
            )
            await batch_posted

    asyncio.run(run())
    assert finished == ["alert", "batch"]
    gateway.wait_drained(timeout=60)


def test_a_consumer_of_one_recipients_urgent_topic_sees_only_its_own_alerts(gateway):
    answers = [
        httpx.post(
            f"{gateway.base_url}/v1/inbound/{fmt}",
            content=(EXAMPLES / sample).read_bytes(),
            headers={"Content-Type": media_type, **gateway.auth(sender)},
            timeout=30,
        )
        for fmt, sample, media_type, sender in [
            (
                "fhir",
                "fhir/suicidal-ideation-alert-message.json",
                "application/fhir+json",
                "cwp-mental-health",
            ),
            ("police", "police/breach-spo-urgent.json", "application/json", "cheshire-police"),
        ]
    ]
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    recipients = {r for a in answers for r in a.json()["recipients"]}
    assert len(recipients) >= 2
    gateway.wait_drained()
    prefix = gateway.runtime.settings.topic_prefix
    seen = 0
    for party in gateway.runtime.bundle.parties:
        messages = read_topic(gateway.bootstrap, urgent_topic(prefix, party), expect=0)
        assert {m["headers"]["recipient"] for m in messages} <= {party}
        seen += bool(messages)
    assert seen >= 2
