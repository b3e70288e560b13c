"""The pipeline, stage by stage: ingest → validate → decide → minimise → audit → route → deliver.

The HTTP layer and the CLI only call :meth:`Pipeline.submit`. Each stage is a
small function in its own module; this file is the one place that strings
them together, so it should read like the flow it implements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span
from sqlalchemy.engine import Connection

from adapters import Adapter, AdapterRegistry, IngestContext
from contracts import Exchange
from gateway.alerts import StepsFor, clock_rows, only_the_recipient
from gateway.errors import InvalidRecord, UnknownPartner
from gateway.linking.hook import combination_entries
from gateway.pipeline.audit import audit_entries
from gateway.pipeline.decide import decide
from gateway.pipeline.deliver import pending_commit
from gateway.pipeline.ingest import ingest
from gateway.pipeline.minimise import minimise
from gateway.pipeline.route import route
from gateway.pipeline.validate import validate
from gateway.policy import Decision, PolicyBundle
from gateway.policy.model import SAFETY_NET
from gateway.store import Store
from gateway.store.commit import Committer, PendingCommit, write_group
from gateway.store.per_request import TransactionPerRequest
from gateway.telemetry import metrics
from gateway.telemetry.tracing import children, failed, settle, stage, started, trace_headers

tracer = trace.get_tracer("isg.gateway.pipeline")
#: The 202's plain words when the agreement lets no recipient have the record.
NOBODY_RECEIVES = (
    "No recipient may receive this record under the agreement in force: it was kept "
    "and audited, but nothing will be delivered (each decision says why). If someone "
    "must know, act another way."
)
#: Said when an immediate record went only to the agreement's safety net.
SAFETY_NET_NOTICE = (
    "No named recipient may receive this immediate record under the agreement: it was "
    "sent to the agreement's 24/7 duty function under vital interests (the safety net). "
    "Make sure the people who must act know."
)
#: Added when a flow would have routed the record but it gives no place to route by.
UNROUTED_NOTICE = (
    "Flagged unrouted: the agreement routes this record by where a person lives or "
    "which probation delivery unit manages them, and the record gives neither. The "
    "coordinating team must route it by hand."
)


def trace_context(span: trace.Span) -> dict[str, str]:
    """W3C trace context of ``span``, carried in message headers."""
    return trace_headers(span)


@dataclass(frozen=True)
class Accepted:
    """An exchange that was kept: its decisions are final and its copies queued."""

    exchange_id: str
    decisions: list[Decision]

    def as_dict(self) -> dict[str, Any]:
        """The answer for this exchange: who will receive a copy, each decision, and
        a plain notice when nobody may (the sender must know to act another way)."""
        recipients = [d.recipient for d in self.decisions if d.effect == "permit"]
        unrouted = [d.recipient for d in self.decisions if d.unrouted]
        answer: dict[str, Any] = {
            "exchange_id": self.exchange_id,
            "recipients": recipients,
            "decisions": [_decision_answer(d) for d in self.decisions],
        }
        notices = []
        net = [d.recipient for d in self.decisions if d.rules == (SAFETY_NET,)]
        if net:
            answer["safety_net"] = net[0]
            notices.append(SAFETY_NET_NOTICE)
        if not recipients:
            notices.append(NOBODY_RECEIVES)
        if unrouted:
            answer["unrouted"] = unrouted
            notices.append(UNROUTED_NOTICE)
        if notices:
            answer["notice"] = " ".join(notices)
        return answer


def _decision_answer(decision: Decision) -> dict[str, Any]:
    """One recipient's decision as the sender sees it: a permit names its purpose."""
    answer: dict[str, Any] = {
        "recipient": decision.recipient,
        "effect": decision.effect,
        "rules": list(decision.rules),
        "reason": decision.reason,
    }
    if decision.permitted:
        answer["purpose"] = decision.purpose
    return answer


@dataclass(frozen=True)
class Submission:
    items: list[Accepted | InvalidRecord]
    batch: bool
    policy_version: str
    agreement_version: str = ""
    accepted: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted", sum(isinstance(i, Accepted) for i in self.items))


@dataclass(frozen=True)
class Prepared:
    """A submission whose stages have all run; its rows are not committed yet."""

    submission: Submission
    pending: list[PendingCommit]
    #: The format the records came in (the metrics count kept exchanges by it).
    fmt: str = ""
    #: Each pending exchange's span: its commit's span is a child of it.
    spans: list[Span] = field(default_factory=list)


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
    #: Wakes the relay: called after each commit that kept an exchange.
    on_commit: Callable[[], None] = lambda: None
    #: How accepted exchanges are kept; by default each in its own transaction.
    committer: Committer | None = None
    #: Immediate records that reached only the agreement's safety net (also counted
    #: as ``isg_safety_net_total``).
    safety_net_sends: int = 0
    #: Who must acknowledge a copy, step by step (the routing rules).
    steps_for: StepsFor = only_the_recipient
    #: The data custodian's linking key (``gateway.linking``); empty: linking is off.
    linking_key: bytes = field(default=b"", repr=False)
    _writes: Committer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._writes = self.committer or TransactionPerRequest(self.store)

    def submit(
        self,
        fmt: str,
        body: bytes,
        media_type: str | None,
        source_partner: str,
        client_id: str | None = None,
    ) -> Submission:
        """Run a partner's body through every stage and commit what it kept;
        ``client_id`` is the partner's system that sent it, for the audit trail."""
        prepared = self.prepare(fmt, body, media_type, source_partner, client_id)
        self.commit(prepared)
        return prepared.submission

    async def submit_async(
        self,
        fmt: str,
        body: bytes,
        media_type: str | None,
        source_partner: str,
        client_id: str | None = None,
    ) -> Submission:
        """``submit`` for the event loop: the stages run on the loop (handing each
        request to a worker thread costs more than the stages), the commit does not."""
        prepared = self.prepare(fmt, body, media_type, source_partner, client_id)
        spans = children("commit", prepared.spans)
        self._committed(prepared, spans, await self._writes.write_async(prepared.pending))
        return prepared.submission

    def commit(self, prepared: Prepared) -> None:
        """Commit each accepted exchange; raise the first failure once every commit
        has settled."""
        spans = children("commit", prepared.spans)
        self._committed(prepared, spans, self._writes.write(prepared.pending))

    def commit_together(self, prepared: Prepared, also: Callable[[Connection], None]) -> None:
        """Commit every accepted exchange of ``prepared`` and ``also(conn)`` in one
        transaction: all of it is kept or none. For an idempotent submission, whose
        stored answer must never exist without its exchanges, nor they without it."""
        spans = children("commit", prepared.spans)
        try:
            write_group(self.store, prepared.pending, also=also)
        except BaseException as exc:
            settle(spans, [exc] * len(spans))
            raise
        self._committed(prepared, spans, [None] * len(prepared.pending))

    def _committed(
        self, prepared: Prepared, spans: list[Span], failures: list[BaseException | None]
    ) -> None:
        """Settle each commit's span, count what was kept, wake the relay, raise the
        first failure."""
        settle(spans, failures)
        kept = (item for item in prepared.submission.items if isinstance(item, Accepted))
        for accepted, failure in zip(kept, failures, strict=False):
            if failure is None:
                metrics.exchange_kept(prepared.fmt, accepted.decisions)
        if None in failures:
            self.on_commit()  # rows are waiting: the relay need not wait for its poll
        for failure in failures:
            if failure is not None:
                raise failure

    def prepare(
        self,
        fmt: str,
        body: bytes,
        media_type: str | None,
        source_partner: str,
        client_id: str | None = None,
    ) -> Prepared:
        """Stages 1-6 for every record in the body; no store access."""
        bundle = self.policy()
        if source_partner not in bundle.parties:
            raise UnknownPartner(f"{source_partner!r} is not a party to {bundle.agreement_id}")
        context = IngestContext(source_partner=source_partner, received_at=datetime.now(UTC))
        try:
            with stage("ingest", **{"isg.format": fmt}):
                parsed = ingest(self.registry, fmt, body, media_type, context)
        except InvalidRecord:
            metrics.RECORDS_REJECTED.labels(fmt).inc()
            raise

        items: list[Accepted | InvalidRecord] = []
        pending: list[PendingCommit] = []
        spans: list[Span] = []
        for index, item in enumerate(parsed.items):
            if isinstance(item, InvalidRecord):
                metrics.RECORDS_REJECTED.labels(fmt).inc()
                items.append(item)
                continue
            # One span per exchange, its stages under it: its trace context goes into
            # every message's headers, and the relay's spans continue it.
            with started("exchange", attributes=exchange_attributes(item, fmt)) as span:
                try:
                    with stage("validate"):
                        validate(item, bundle, record=index if parsed.batch else None)
                except InvalidRecord as problem:
                    metrics.RECORDS_REJECTED.labels(fmt).inc()
                    if not parsed.batch:
                        raise
                    failed(span, problem)
                    items.append(problem)
                    continue
                accepted, rows = self._process(item, fmt, bundle, client_id, span)
            items.append(accepted)
            pending.append(rows)
            spans.append(span)
        submission = Submission(
            items=items,
            batch=parsed.batch,
            policy_version=bundle.version,
            agreement_version=bundle.agreement_version,
        )
        return Prepared(submission, pending, fmt, spans)

    def _process(
        self,
        exchange: Exchange,
        fmt: str,
        bundle: PolicyBundle,
        client_id: str | None,
        span: Span,
    ) -> tuple[Accepted, PendingCommit]:
        record = exchange.model_dump(mode="json")
        with stage("decide", **{"isg.policy_version": bundle.version}) as step:
            decisions = decide(exchange, bundle)
            permits = sum(d.permitted for d in decisions)
            step.set_attribute("isg.permits", permits)
            step.set_attribute("isg.denials", len(decisions) - permits)
        with stage("minimise") as step:
            disclosures = minimise(record, decisions, self.pseudonym_key)
            step.set_attribute("isg.disclosures", len(disclosures))
        with stage("audit") as step:
            entries = audit_entries(
                exchange, fmt, decisions, disclosures, client_id, record, self.pseudonym_key
            )
            # A record showing one person's identifiers together is a combination (s62).
            entries += combination_entries(
                record, "gateway", self.linking_key, entries[0].recorded_at
            )
            step.set_attribute("isg.entries", len(entries))
        with stage("route") as step:
            messages = route(
                exchange,
                disclosures,
                self.topic_prefix,
                self.webhooks,
                trace_context(span),
                self.renderers,
            )
            step.set_attribute("isg.messages", len(messages))
        span.set_attribute("isg.recipients", permits)
        accepted = Accepted(str(exchange.exchange_id), decisions)
        if any(d.rules == (SAFETY_NET,) for d in decisions):
            self.safety_net_sends += 1
        clocks = clock_rows(exchange, decisions, datetime.now(UTC), self.steps_for)
        rows = pending_commit(
            exchange, record, fmt, bundle.version, decisions, disclosures, entries, messages, clocks
        )
        return accepted, rows


def exchange_attributes(exchange: Exchange, fmt: str) -> dict[str, str]:
    """What an exchange's span says about it: ids, the format and the sender, never a
    value of the record (its purpose and case reference included)."""
    return {
        "isg.format": fmt,
        "isg.exchange_id": str(exchange.exchange_id),
        "isg.source_partner": exchange.source_partner,
    }
