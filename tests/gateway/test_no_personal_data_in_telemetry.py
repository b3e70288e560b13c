"""No personal data in telemetry: every sample under examples/ (the batch with bad
rows too) goes through a running gateway, as its sender and under its agreement;
then the log records of every logger, the pipeline's recorded spans and the
``/metrics`` text are searched for the sample people's names, identifiers, dates
of birth and addresses. None may appear.

What to look for is read from the samples themselves, by field name, so a new
sample brings its people with it."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.fhir.native import IDENTIFIER_SYSTEMS, NHS_NUMBER_SYSTEM
from gateway.telemetry.tracing import install_tracer_provider
from tests.conftest import EXAMPLES, ROOT, STORES, RunningGateway, start_gateway

#: The kinds of personal value looked for; each must be found in the samples.
KINDS = ("name", "nhs_number", "pnc_id", "crn", "noms_number", "date_of_birth", "address")

#: Native field names (adapters/*/native.py, FHIR's Patient, the screening CSV's
#: columns less their ``suspect_``/``victim_`` prefix) and the kind of value they hold.
FIELD_KIND = {
    "forename": "name",
    "surname": "name",
    "given": "name",
    "family": "name",
    "nhs_number": "nhs_number",
    "pnc_id": "pnc_id",
    "crn": "crn",
    "noms_number": "noms_number",
    "local_id": "local_id",
    "dob": "date_of_birth",
    "birthDate": "date_of_birth",
    "postcode": "address",
    "postalCode": "address",
}
#: An address's lines (``lines`` natively, ``line`` in FHIR), only inside an address.
ADDRESS_LINES = {"lines", "line"}
#: A FHIR reference's ``display`` names its person under these keys.
PERSON_REFERENCES = {"subject", "patient"}
#: FHIR identifier systems and the kind of value they carry.
SYSTEM_KIND = {
    NHS_NUMBER_SYSTEM: "nhs_number",
    IDENTIFIER_SYSTEMS["pnc_id"]: "pnc_id",
    IDENTIFIER_SYSTEMS["crn"]: "crn",
    IDENTIFIER_SYSTEMS["noms_number"]: "noms_number",
    IDENTIFIER_SYSTEMS["local"]: "local_id",
}
#: Libraries whose lower levels dump what goes over the wire, kept one level above:
#: kafka-python's DEBUG logs each record it sends, SQLAlchemy's INFO (``echo``) each
#: statement's parameters. The gateway runs both at WARNING
#: (``gateway.telemetry.logs.configure_logging``).
LIBRARY_LEVELS = {"kafka": logging.INFO, "sqlalchemy": logging.WARNING}
#: Shorter values (first names such as "Ryan") and bare years match too much by chance.
MIN_LENGTH = 5


@dataclass(frozen=True)
class Needle:
    kind: str
    value: str
    sample: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The value as a whole token, any case: "Grace" is not in "graceful"."""
        return re.compile(rf"(?<![0-9a-z]){re.escape(self.value)}(?![0-9a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Sample:
    path: Path
    content_type: str
    sender: str
    agreement: str

    @property
    def format(self) -> str:
        return self.path.parent.name


def documented_samples() -> list[Sample]:
    """Every sample as examples/README.md's table lists it: its media type, its
    sender and its agreement."""
    samples = []
    for line in (EXAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`") or "/" not in cells[0]:
            continue
        name, _what, media, sender, agreement = cells
        samples.append(
            Sample(
                path=EXAMPLES / name.strip("`"),
                content_type=re.findall(r"`([^`]+)`", media)[-1],
                sender=sender.strip("`"),
                agreement=agreement,
            )
        )
    return samples


def variants(kind: str, value: str) -> list[str]:
    """The ways a value could be written out: a date of birth in UK and long forms,
    an NHS number in its 3-3-4 groups."""
    if kind == "date_of_birth":
        try:
            born = date.fromisoformat(value)
        except ValueError:  # a bad row's date is looked for as it was sent
            return [value]
        return [value, born.strftime("%d/%m/%Y"), f"{born.day} {born:%B %Y}"]
    if kind == "nhs_number" and value.isdigit() and len(value) == 10:
        return [value, f"{value[:3]} {value[3:6]} {value[6:]}"]
    return [value]


def personal_values(document: Any, key: str = "", parent: str = "") -> Iterator[tuple[str, str]]:
    """(kind, value) for every personal value in a parsed JSON sample."""
    if isinstance(document, dict):
        system, value = document.get("system"), document.get("value")
        if isinstance(value, str) and system in SYSTEM_KIND:
            yield SYSTEM_KIND[system], value
        if key in PERSON_REFERENCES and isinstance(document.get("display"), str):
            yield "name", document["display"]
        for child_key, child in document.items():
            yield from personal_values(child, child_key, key)
    elif isinstance(document, list):
        for item in document:
            yield from personal_values(item, key, parent)
    elif isinstance(document, str):
        field = re.sub(r"^(suspect|victim)_", "", key)
        if field in FIELD_KIND:
            yield FIELD_KIND[field], document
        elif key in ADDRESS_LINES and parent == "address":
            yield "address", document


def needles(samples: list[Sample]) -> list[Needle]:
    found: dict[tuple[str, str], Needle] = {}
    for sample in samples:
        text = sample.path.read_text(encoding="utf-8")
        if sample.path.suffix == ".csv":
            documents: Any = list(csv.DictReader(io.StringIO(text)))
        else:
            documents = json.loads(text)
        name = f"{sample.format}/{sample.path.name}"
        for kind, raw in personal_values(documents):
            value = raw.strip()
            if len(value) < MIN_LENGTH or re.fullmatch(r"\d{4}", value):
                continue
            for written in variants(kind, value):
                found.setdefault((kind, written.lower()), Needle(kind, written, name))
    return list(found.values())


class Records(logging.Handler):
    """Every log record, formatted with its traceback and any ``extra`` fields."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(threadName)s %(message)s"))
        self.lines: list[str] = []
        self.loggers: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in vars(record).items() if k not in self.STANDARD}
        self.lines.append(self.format(record) + (f" {extra!r}" if extra else ""))
        self.loggers.add(record.name)


@contextmanager
def every_log_record() -> Iterator[tuple[Records, Callable[[], None]]]:
    """A handler on the root logger and every logger at DEBUG (but LIBRARY_LEVELS);
    ``reach()`` extends it to every logger that exists by then (uvicorn's do not
    propagate, and its config resets their levels at each server's start)."""
    handler = Records()
    saved: dict[logging.Logger, tuple[int, bool]] = {}

    def reach() -> None:
        loggers = [logging.root] + [logging.getLogger(name) for name in LIBRARY_LEVELS]
        loggers += [
            logger
            for logger in logging.root.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            saved.setdefault(logger, (logger.level, handler in logger.handlers))
            if logger.name in LIBRARY_LEVELS:
                logger.setLevel(LIBRARY_LEVELS[logger.name])
            elif logger.name.split(".")[0] not in LIBRARY_LEVELS:
                logger.setLevel(logging.DEBUG)
            reaches_root = logger.propagate and logger is not logging.root
            if not reaches_root and handler not in logger.handlers:
                logger.addHandler(handler)

    reach()
    try:
        yield handler, reach
    finally:
        for logger, (level, had_handler) in saved.items():
            logger.setLevel(level)
            if not had_handler:
                logger.removeHandler(handler)


def span_text(span: ReadableSpan) -> str:
    parts = [span.name, repr(dict(span.attributes or {})), span.status.description or ""]
    for event in span.events:
        parts += [event.name, repr(dict(event.attributes or {}))]
    return " ".join(parts)


def traceparent() -> str:
    """A sampled W3C trace context: the pipeline's spans are recorded whatever
    sample ratio the session's tracer provider was installed with."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def send_samples(gateway: RunningGateway, samples: list[Sample]) -> int:
    """Submit each sample as its sender; how many exchanges were accepted."""
    accepted = 0
    for sample in samples:
        with gateway.client(sample.sender) as client:
            response = client.post(
                f"/v1/inbound/{sample.format}",
                content=sample.path.read_bytes(),
                headers={"Content-Type": sample.content_type, "traceparent": traceparent()},
            )
        assert response.status_code == 202, f"{sample.path.name}: {response.text}"
        answer = response.json()
        results = answer.get("results", [answer])
        accepted += sum(1 for r in results if r.get("status", "accepted") == "accepted")
    gateway.wait_drained()
    return accepted


@pytest.mark.parametrize("kind", STORES)
def test_no_personal_data_in_logs_spans_or_metrics(kind, broker, store_url_factory, tmp_path):
    samples = documented_samples()
    on_disk = {p for p in EXAMPLES.glob("*/*") if p.suffix in (".json", ".csv")}
    assert {s.path for s in samples} == on_disk, "examples/README.md's table lists every sample"
    assert any(s.path.name == "daily-screening-with-bad-rows.csv" for s in samples)
    looked_for = needles(samples)
    kinds = {n.kind for n in looked_for}
    assert set(KINDS) <= kinds, f"no {set(KINDS) - kinds} in the samples"

    # The provider the gateway installs, unless an earlier test of the session has.
    install_tracer_provider(1.0)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    accepted, metrics = 0, []
    with every_log_record() as (records, reach):
        for agreement in sorted({s.agreement for s in samples}):
            gateway, server, thread = start_gateway(
                kind,
                store_url_factory(kind),
                broker.bootstrap,
                tmp_path / agreement,
                policy_dir=ROOT / "policies" / agreement,
                trace_sample_ratio=1.0,
            )
            try:
                reach()
                accepted += send_samples(gateway, [s for s in samples if s.agreement == agreement])
                with gateway.client(None) as client:
                    answer = client.get("/metrics")
                assert answer.status_code == 200
                metrics.append(answer.text)
            finally:
                server.should_exit = True
                thread.join(timeout=10)
                gateway.runtime.stop()
    spans = exporter.get_finished_spans()
    processor.shutdown()  # the session's provider keeps it, but it records no more

    # The capture worked: the gateway's own records and uvicorn's access log, a span
    # per accepted exchange, each gateway's metrics.
    assert any(name.startswith("gateway.") for name in records.loggers), records.loggers
    assert "uvicorn.access" in records.loggers
    assert sum(s.name == "exchange" for s in spans) >= accepted > len(samples)
    assert all("isg_relay_delivered_total" in text for text in metrics)

    captured = {
        "logs": "\n".join(records.lines),
        "spans": "\n".join(span_text(s) for s in spans),
        "metrics": "\n".join(metrics),
    }
    leaks = [
        f"{needle.kind} {needle.value!r} (from {needle.sample}) in the {where}: "
        + next(line for line in text.splitlines() if needle.pattern.search(line))[:300]
        for needle in looked_for
        for where, text in captured.items()
        if needle.pattern.search(text)
    ]
    assert not leaks, "\n".join(leaks)
