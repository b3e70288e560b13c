"""Log lines: JSON objects carrying the trace and span ids of the request they belong
to, no value of the record, no query string; the level as configured."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.telemetry.logs import UVICORN, configure_logging
from tests.telemetry.conftest import PARTNER, POLICE_SAMPLE, sample_values, traceparent


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """A buffer for the gateway's log lines (``configure_logging(..., stream=it)``);
    the process's loggers as they were afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    loggers = [logging.getLogger(name) for name in UVICORN]
    kept = [(logger, list(logger.handlers), logger.propagate, logger.level) for logger in loggers]
    buffer = io.StringIO()
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for logger, handlers, propagate, level in kept:
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)
    logging.captureWarnings(False)


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_requests_json_log_line_carries_its_trace_and_no_record_value(pushing_gateway, log_lines):
    gateway, _answering, _failing = pushing_gateway
    configure_logging("INFO", "json", log_lines)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # the test server's is WARNING
    header, trace_id, _partner_span = traceparent()
    with gateway.client("cheshire-police") as client:
        answer = client.post(
            "/v1/inbound/police",
            content=POLICE_SAMPLE.read_bytes(),
            headers={**PARTNER, "traceparent": header},
        )
        # A query string may name a person: the access log leaves it out.
        client.get("/v1/adapters", params={"surname": "Marsh", "dob": "1985-03-02"})
    assert answer.status_code == 202, answer.text
    gateway.wait_drained()
    lines = _lines(log_lines)  # every line is one JSON object
    (access,) = [
        line
        for line in lines
        if line["logger"] == "uvicorn.access" and "POST /v1/inbound/police" in line["message"]
    ]
    assert access["trace_id"] == trace_id
    assert len(access["span_id"]) == 16 and access["span_id"] != header.split("-")[2]
    assert access["level"] == "INFO" and access["time"].endswith("+00:00")
    (query,) = [line for line in lines if "/v1/adapters" in line["message"]]
    assert "?" not in query["message"]
    text = log_lines.getvalue()
    leaks = {v for v in sample_values() if v in text}
    assert not leaks, f"record values in the log: {sorted(leaks)}"


def test_the_level_and_the_text_format(log_lines, spans):
    configure_logging("warning", "text", log_lines)
    log = logging.getLogger("gateway.test")
    log.info("not written at WARNING")
    log.warning("written")
    from opentelemetry import trace

    with trace.get_tracer("test").start_as_current_span("outer") as span:
        log.error("inside a span")
    lines = log_lines.getvalue().splitlines()
    assert not [line for line in lines if "not written" in line]
    (written,) = [line for line in lines if line.endswith("written")]
    assert " WARNING gateway.test written" in written
    (inside,) = [line for line in lines if "inside a span" in line]
    context = span.get_span_context()  # the SDK's span (the spans fixture installs it)
    assert inside.endswith(f"trace={context.trace_id:032x} span={context.span_id:016x}")


def test_extra_fields_and_exceptions_in_json(log_lines):
    """``extra`` fields become keys; an exception gives its type and traceback."""
    configure_logging("INFO", "json", log_lines)
    log = logging.getLogger("gateway.test")
    log.info("delivery %s dead-lettered", "d-1", extra={"delivery_id": "d-1", "attempts": 3})
    try:
        raise TimeoutError("peer silent")
    except TimeoutError:
        log.exception("delivery failed")
    first, second = _lines(log_lines)[-2:]
    assert first["message"] == "delivery d-1 dead-lettered"
    assert (first["delivery_id"], first["attempts"]) == ("d-1", 3)
    assert "trace_id" not in first  # outside any span
    assert second["exception"] == "TimeoutError"
    assert "Traceback" in second["traceback"] and second["level"] == "ERROR"
