"""A successful commit wakes the relay at once: a delivery, urgent or not, must not
sit in the outbox until the relay's next poll."""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.delivery.reader import read_topic
from gateway.policy import load_bundle
from tests.conftest import EXAMPLES, ROOT, recording_pipeline, start_gateway

SAMPLE = EXAMPLES / "police" / "stalking-crime.json"


def _wakes(fresh_store):
    pipeline = recording_pipeline(fresh_store, load_bundle(ROOT / "policies" / "cheshire-hru"))
    woken = [0]

    def nudge() -> None:
        woken[0] += 1

    pipeline.on_commit = nudge
    return woken, pipeline


def test_a_successful_commit_wakes_the_relay(fresh_store):
    woken, pipeline = _wakes(fresh_store)
    submission = pipeline.submit(
        "police", SAMPLE.read_bytes(), "application/json", "cheshire-police"
    )
    assert submission.accepted == 1
    assert woken == [1]


def test_a_commit_on_the_event_loop_wakes_the_relay_too(fresh_store):
    woken, pipeline = _wakes(fresh_store)
    body = SAMPLE.read_bytes()
    submission = asyncio.run(
        pipeline.submit_async("police", body, "application/json", "cheshire-police")
    )
    assert submission.accepted == 1
    assert woken == [1]


def test_an_idle_gateway_delivers_long_before_its_poll_interval(
    broker, postgres, tmp_path, store_url_factory
):
    """With a 10 s poll, only the commit's wake-up can deliver within 5 s."""
    running, server, thread = start_gateway(
        "sqlite",
        store_url_factory("sqlite"),
        broker.bootstrap,
        tmp_path,
        relay_poll_seconds=10.0,
    )
    try:
        time.sleep(1.0)  # the relay's workers are idle, waiting out their poll
        answer = httpx.post(
            f"{running.base_url}/v1/inbound/police",
            content=SAMPLE.read_bytes(),
            headers={"Content-Type": "application/json", **running.auth("cheshire-police")},
            timeout=30,
        )
        assert answer.status_code == 202
        exchange_id = answer.json()["exchange_id"]
        started = time.monotonic()
        delivered = read_topic(
            running.bootstrap,
            running.topic("probation-spoc-north"),
            exchange_id=exchange_id,
            expect=1,
            timeout=5.0,
        )
        assert delivered, "the delivery waited for the relay's poll"
        assert time.monotonic() - started < 5.0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        running.runtime.stop()
