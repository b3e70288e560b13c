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

from adapters import AdapterRegistry, IngestContext
from contracts import Exchange
from gateway.errors import InvalidRecord, UnknownPartner
from gateway.pipeline.audit import audit_entries
from gateway.pipeline.decide import decide
from gateway.pipeline.deliver import commit
from gateway.pipeline.ingest import ingest
from gateway.pipeline.minimise import minimise
from gateway.pipeline.route import route
from gateway.pipeline.validate import validate
from gateway.policy import Decision, PolicyBundle
from gateway.store import Store


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


@dataclass
class Pipeline:
    registry: AdapterRegistry
    store: Store
    policy: Callable[[], PolicyBundle]
    topic_prefix: str
    pseudonym_key: bytes
    on_commit: Callable[[], None] = lambda: None

    def submit(
        self, fmt: str, body: bytes, media_type: str | None, source_partner: str
    ) -> Submission:
        bundle = self.policy()
        if source_partner not in bundle.parties:
            raise UnknownPartner(f"{source_partner!r} is not a party to {bundle.agreement_id}")
        context = IngestContext(source_partner=source_partner, received_at=datetime.now(UTC))
        parsed = ingest(self.registry, fmt, body, media_type, context)

        items: list[Accepted | InvalidRecord] = []
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
            items.append(self._process(item, fmt, bundle))
        if any(isinstance(i, Accepted) for i in items):
            self.on_commit()
        return Submission(items=items, batch=parsed.batch, policy_version=bundle.version)

    def _process(self, exchange: Exchange, fmt: str, bundle: PolicyBundle) -> Accepted:
        record = exchange.model_dump(mode="json")
        decisions = decide(exchange, bundle)
        disclosures = minimise(record, decisions, self.pseudonym_key)
        entries = audit_entries(exchange, fmt, decisions, disclosures)
        messages = route(exchange, disclosures, self.topic_prefix)
        commit(self.store, exchange, fmt, bundle.version, decisions, disclosures, entries, messages)
        return Accepted(str(exchange.exchange_id), decisions)
