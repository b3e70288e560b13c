"""The pipeline, stage by stage: ingest → validate → decide → minimise → audit → route → deliver.

The HTTP layer and the CLI only call :meth:`Pipeline.submit`. Each stage is a
small function in its own module; this file is the one place that strings
them together, so it should read like the flow it implements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy.engine import Connection

from adapters import Adapter, AdapterRegistry, IngestContext
from contracts import Exchange
from gateway.errors import InvalidRecord, UnknownPartner
from gateway.pipeline.audit import audit_entries
from gateway.pipeline.decide import decide
from gateway.pipeline.deliver import (
    GroupCommitter,
    LoopCommitter,
    PendingCommit,
    pending_commit,
    write_each,
    write_group,
)
from gateway.pipeline.ingest import ingest
from gateway.pipeline.minimise import minimise
from gateway.pipeline.route import route
from gateway.pipeline.validate import validate
from gateway.policy import Decision, PolicyBundle
from gateway.store import Store

tracer = trace.get_tracer("isg.gateway.pipeline")


class _Span:
    """A pipeline span that is never made the current one.

    Nothing inside a stage starts spans of its own, so attaching each span to
    the context (and detaching it) bought nothing and cost three quarters of
    the ~45 µs two spans and the trace headers took per exchange."""

    __slots__ = ("span",)

    def __init__(self, name: str, fmt: str) -> None:
        self.span = tracer.start_span(name, attributes={"isg.format": fmt})

    def __enter__(self) -> trace.Span:
        return self.span

    def __exit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        if error is not None and self.span.is_recording():
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, str(error)))
        self.span.end()


def trace_context(span: trace.Span) -> dict[str, str]:
    """W3C trace context of ``span``, carried in message headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


@dataclass(frozen=True)
class Accepted:
    """An exchange that was kept: its decisions are final and its copies queued."""

    exchange_id: str
    decisions: list[Decision]

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchange_id": self.exchange_id,
            "decisions": [
                {
                    "recipient": d.recipient,
                    "effect": d.effect,
                    "rules": list(d.rules),
                    "reason": d.reason,
                }
                for d in self.decisions
            ],
        }


@dataclass(frozen=True)
class Submission:
    items: list[Accepted | InvalidRecord]
    batch: bool
    policy_version: str
    accepted: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted", sum(isinstance(i, Accepted) for i in self.items))


@dataclass(frozen=True)
class Prepared:
    """A submission whose stages have all run; its rows are not committed yet."""

    submission: Submission
    pending: list[PendingCommit]


@dataclass
class Pipeline:
    registry: AdapterRegistry
    store: Store
    policy: Callable[[], PolicyBundle]
    topic_prefix: str
    pseudonym_key: bytes
    webhooks: frozenset[str] = frozenset()
    #: recipient -> the adapter that renders its copies in its own format
    renderers: dict[str, Adapter] = field(default_factory=dict)
    on_commit: Callable[[], None] = lambda: None
    #: Shares transactions between concurrent requests; None commits each alone.
    committer: GroupCommitter | None = None
    #: For requests on the event loop (SQLite): groups written by the loop itself.
    loop_committer: LoopCommitter | None = None

    def submit(
        self, fmt: str, body: bytes, media_type: str | None, source_partner: str
    ) -> Submission:
        """Run a partner's body through every stage and commit what it kept."""
        prepared = self.prepare(fmt, body, media_type, source_partner)
        self.commit(prepared)
        return prepared.submission

    async def submit_async(
        self, fmt: str, body: bytes, media_type: str | None, source_partner: str
    ) -> Submission:
        """``submit`` for the event loop: the stages run on the loop, and so does the
        commit on SQLite (``LoopCommitter``); on PostgreSQL the group committer's
        thread waits out the round trips. Handing every request to a worker thread
        instead costs more than the stages themselves."""
        prepared = self.prepare(fmt, body, media_type, source_partner)
        if self.loop_committer is not None:
            futures = [self.loop_committer.enqueue(p) for p in prepared.pending]
        elif self.committer is not None:
            futures = [self.committer.enqueue_from_loop(p) for p in prepared.pending]
        else:
            await asyncio.to_thread(self.commit, prepared)
            return prepared.submission
        if futures:
            await asyncio.wait(futures)
            self._committed(prepared, [f.exception() for f in futures])
        return prepared.submission

    def commit(self, prepared: Prepared) -> None:
        """Commit each accepted exchange (each in its own transaction, or its
        group's); raise the first failure once every commit has settled."""
        if self.committer is None:
            failures = write_each(self.store, prepared.pending)
        else:
            futures = [self.committer.enqueue(p) for p in prepared.pending]
            failures = [f.exception() for f in futures]
        self._committed(prepared, failures)

    def commit_together(self, prepared: Prepared, also: Callable[[Connection], None]) -> None:
        """Commit every accepted exchange of ``prepared`` and ``also(conn)`` in one
        transaction: all of it is kept or none. For an idempotent submission, whose
        stored answer must never exist without its exchanges, nor they without it."""
        write_group(self.store, prepared.pending, also=also)
        self.on_commit()

    def _committed(self, prepared: Prepared, failures: list[BaseException | None]) -> None:
        if len(failures) > failures.count(None):
            self.on_commit()
        for failure in failures:
            if failure is not None:
                raise failure

    def prepare(
        self,
        fmt: str,
        body: bytes,
        media_type: str | None,
        source_partner: str,
    ) -> Prepared:
        """Stages 1-6 for every record in the body; no store access."""
        bundle = self.policy()
        if source_partner not in bundle.parties:
            raise UnknownPartner(f"{source_partner!r} is not a party to {bundle.agreement_id}")
        context = IngestContext(source_partner=source_partner, received_at=datetime.now(UTC))
        with _Span("ingest", fmt):
            parsed = ingest(self.registry, fmt, body, media_type, context)

        items: list[Accepted | InvalidRecord] = []
        pending: list[PendingCommit] = []
        for index, item in enumerate(parsed.items):
            if isinstance(item, InvalidRecord):
                items.append(item)
                continue
            try:
                validate(item, bundle, record=index if parsed.batch else None)
            except InvalidRecord as problem:
                if not parsed.batch:
                    raise
                items.append(problem)
                continue
            accepted, rows = self._process(item, fmt, bundle)
            items.append(accepted)
            pending.append(rows)
        submission = Submission(items=items, batch=parsed.batch, policy_version=bundle.version)
        return Prepared(submission, pending)

    def _process(
        self, exchange: Exchange, fmt: str, bundle: PolicyBundle
    ) -> tuple[Accepted, PendingCommit]:
        # One span per exchange: its trace context goes into every message's headers.
        with _Span("exchange", fmt) as span:
            record = exchange.model_dump(mode="json")
            decisions = decide(exchange, bundle)
            disclosures = minimise(record, decisions, self.pseudonym_key)
            entries = audit_entries(exchange, fmt, decisions, disclosures)
            messages = route(
                exchange,
                disclosures,
                self.topic_prefix,
                self.webhooks,
                trace_context(span),
                self.renderers,
            )
        accepted = Accepted(str(exchange.exchange_id), decisions)
        rows = pending_commit(
            exchange, record, fmt, bundle.version, decisions, disclosures, entries, messages
        )
        return accepted, rows
