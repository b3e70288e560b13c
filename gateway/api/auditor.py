"""The auditor's API: searching the audit trail, a subject's disclosures, an exchange's timeline.

For people signed in (``gateway.api.sign_in``) with the role ``auditor`` or
``dpo``. Every read is itself audited as an s62 *consultation* (who looked at
what, by filters and ids, never a value); a subject access report is also a
*combination* (records about one person joined across partners). An
identifier is never put in a URL: it is posted, and the subject is named by
its audit pseudonym from then on (``gateway.audit.subjects``).

    GET  /v1/audit/entries                     search: filters, keyset pages, CSV
    POST /v1/audit/subjects                    {system, value}: the subject's pseudonym
    GET  /v1/audit/subjects/{pseudonym}/report the subject access report (JSON)
    GET  /v1/audit/exchanges/{exchange_id}     an exchange's timeline
    GET  /v1/audit/chain                       the chain's verification

The pages over the same (``/auditor``) are in ``gateway.api.auditor_pages``.
Service clients cannot use these: a partner system's scopes are its partner's,
and the whole trail is no partner's to read.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.audit import Action, AuditEntry
from gateway.audit.checkpoints import keys_from_settings, verify_store
from gateway.audit.query import AuditQuery, BadCursor, Filters, moment
from gateway.audit.subject_access import PartyInfo, report, report_entries
from gateway.audit.subjects import current_trace_id, envelope_pseudonyms, is_pseudonym
from gateway.errors import ClientError, NotFound, SignInNotConfigured
from gateway.identity.caller import Caller
from gateway.identity.people import AUDITOR, DPO, require_role
from gateway.runtime import Runtime
from gateway.store.audit_log import append
from gateway.store.tables import alert_clocks, dead_letters, exchanges

log = logging.getLogger(__name__)
#: The roles that may read the audit trail.
AUDIT_ROLES = (AUDITOR, DPO)
ACTIONS = tuple(sorted(v for k, v in vars(Action).items() if k.isupper() and isinstance(v, str)))
URGENCIES = ("urgent", "immediate")
#: How long a chain verification is shown before it is run again.
CHAIN_FRESH_SECONDS = 30.0
CSV_COLUMNS = (
    "seq",
    "recorded_at",
    "action",
    "actor",
    "recipient",
    "exchange_id",
    "purpose",
    "lawful_basis",
    "rules",
    "subject_pseudonyms",
    "paths_disclosed",
    "paths_removed",
    "payload_sha256",
    "policy_version",
    "trace_id",
    "entry_id",
    "hash",
)
_TEXT = r"^[^\x00-\x1f\x7f]*$"


class SubjectLookup(BaseModel):
    """An identifier to find a person by; never stored, never echoed."""

    model_config = ConfigDict(extra="forbid")

    system: Literal["nhs_number", "pnc_id", "crn", "noms_number", "local"]
    value: str = Field(min_length=1, max_length=64, pattern=_TEXT)
    issuer: str | None = Field(None, max_length=100, pattern=_TEXT)

    @field_validator("value")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the identifier must not be blank")
        return value


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error", "input": None}]
    )


def _time(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return moment(value)
    except ValueError:
        raise _invalid(field, "not an ISO 8601 date or date and time") from None


def filters_from(
    *,
    exchange_id: str | None,
    subject: str | None,
    partner: str | None,
    purpose: str | None,
    rule: str | None,
    decision: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
) -> Filters:
    """The search's filters, each checked (422 naming the parameter)."""
    if exchange_id is not None:
        try:
            exchange_id = str(UUID(exchange_id))
        except ValueError:
            raise _invalid("exchange_id", "not an exchange id (a UUID)") from None
    if subject is not None and not is_pseudonym(subject):
        raise _invalid(
            "subject",
            "not an audit pseudonym (sp- and 32 hex digits): look a subject up by "
            "identifier with POST /v1/audit/subjects",
        )
    if decision is not None and decision not in ("permit", "deny"):
        raise _invalid("decision", "permit or deny")
    if action is not None and action not in ACTIONS:
        raise _invalid("action", f"one of {', '.join(ACTIONS)}")
    for name, text in (("partner", partner), ("purpose", purpose), ("rule", rule)):
        if text is not None and (not text or len(text) > 128 or not text.isprintable()):
            raise _invalid(name, "1 to 128 printable characters")
    low, high = _time(since, "since"), _time(until, "until")
    if low is not None and high is not None and low >= high:
        raise _invalid("until", "must be after since")
    return Filters(exchange_id, subject, partner, purpose, rule, decision, action, low, high)


@dataclass
class _Chain:
    checked_at: float = 0.0
    status: dict[str, Any] | None = None


class Auditor:
    """What the auditor's API and pages share: the queries, and auditing their use."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.query = AuditQuery(runtime.store.engine, runtime.pipeline.pseudonym_key)
        self._chain = _Chain()
        self._chain_lock = threading.Lock()

    # Who is who.

    def parties(self) -> dict[str, PartyInfo]:
        bundle = self.runtime.pipeline.policy()
        return {
            pid: PartyInfo(party.name, party.kind, tuple(party.tags))
            for pid, party in bundle.parties.items()
        }

    def party_name(self, party: str | None) -> str:
        if party is None:
            return ""
        found = self.parties().get(party)
        return found.name if found else party

    # Auditing the auditor.

    def record(self, entries: list[AuditEntry]) -> None:
        with self.runtime.store.transaction() as conn:
            append(conn, entries)

    def consulted(
        self,
        caller: Caller,
        via: str,
        what: str,
        *,
        exchange_id: str | None = None,
        **details: Any,
    ) -> None:
        """One *consultation* entry: who read what through which page or endpoint."""
        body: dict[str, Any] = {
            "via": via,
            "consulted": what,
            "roles": sorted(caller.roles & set(AUDIT_ROLES)),
            "justification": "audit of the partnership's processing (DPA 2018 s62; UK GDPR "
            "Art 5(2) accountability)",
            **{k: v for k, v in details.items() if v not in (None, {}, [])},
        }
        trace_id = current_trace_id()
        if trace_id:
            body["trace_id"] = trace_id
        self.record(
            [
                AuditEntry(
                    action=Action.CONSULTATION,
                    actor=caller.actor,
                    exchange_id=exchange_id,
                    details=body,
                )
            ]
        )

    # The reads.

    def subject_report(self, caller: Caller, pseudonym: str, via: str) -> dict[str, Any]:
        """The subject access report; compiling and viewing it are audited."""
        found = report(self.query, pseudonym, self.parties())
        self.record(report_entries(found, caller.actor, via, current_trace_id()))
        return found

    def timeline(self, exchange_id: str) -> dict[str, Any]:
        """An exchange's story from the audit trail: received; decided per recipient
        with its rule; minimised, paths kept and removed; delivered; acknowledged or
        escalated; and everything after (consultations, corrections, withdrawal)."""
        entries = self.query.exchange_entries(exchange_id)
        if not entries:
            raise NotFound(f"no audit entries for exchange {exchange_id}")
        with self.runtime.store.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(
                        exchanges.c.source_partner,
                        exchanges.c.category,
                        exchanges.c.urgency,
                        exchanges.c.submitted_at,
                        exchanges.c.withdrawn_at,
                    ).where(exchanges.c.exchange_id == exchange_id)
                )
                .mappings()
                .first()
            )
        names = {pid: party.name for pid, party in self.parties().items()}
        steps = [step for entry in entries for step in timeline_steps(entry, names)]
        return {
            "exchange_id": exchange_id,
            "held": row is not None,
            "sender": entries[0]["actor"] if entries[0]["action"] == Action.COLLECTION else None,
            "category": row["category"] if row else None,
            "urgency": row["urgency"] if row else None,
            "steps": steps,
            "entries": entries,
        }

    def chain_status(self, *, fresh: bool = False) -> dict[str, Any]:
        """The audit trail verified, at most ``CHAIN_FRESH_SECONDS`` old unless
        ``fresh``: the chain and its signed checkpoints."""
        with self._chain_lock:
            age = time.monotonic() - self._chain.checked_at
            if fresh or self._chain.status is None or age > CHAIN_FRESH_SECONDS:
                self._chain.status = self._verify()
                self._chain.checked_at = time.monotonic()
            return dict(self._chain.status)

    def _verify(self) -> dict[str, Any]:
        """The store verified as ``gateway audit verify`` does: the chain, its signed
        checkpoints, the seals of entries since the newest and the exchanges' decisions
        (``gateway.audit.checkpoints.verify_store``)."""
        started = time.perf_counter()
        checked_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            keys = keys_from_settings(self.runtime.settings, create=False)
            verified = verify_store(self.runtime.store.engine, keys)
        except Exception as failed:  # shown to the auditor as unchecked, and logged
            log.exception("the audit trail could not be verified for the dashboard")
            return {
                "status": "unchecked",
                "verified": False,
                "checked_at": checked_at,
                "detail": f"the audit trail could not be checked: {type(failed).__name__}",
                "checkpoints": None,
            }
        finding = verified.finding
        latest = verified.latest
        status: dict[str, Any] = {
            "status": "verified" if finding is None else "broken",
            "verified": finding is None,
            "entries": verified.chain.entries,
            "algorithms": dict(verified.chain.algorithms),
            "checked_at": checked_at,
            "seconds": round(time.perf_counter() - started, 3),
            "checkpoints": {
                "count": verified.checkpoints,
                "latest": None
                if latest is None
                else {
                    "id": latest.id,
                    "key_id": latest.key_id,
                    "upto_seq": latest.upto_seq,
                    "created_at": latest.fields.get("created_at"),
                    "kind": latest.fields.get("kind"),
                },
                "entries_since": verified.uncovered,
            },
            "exchanges_checked": verified.exchanges,
            "notes": list(verified.notes),
        }
        if finding is not None:
            status["first_bad_entry"] = {
                "seq": finding.seq,
                "entry_id": finding.entry_id,
                "kind": finding.kind,
                "message": finding.message,
            }
        return status

    # The charts.

    def statistics(self, weeks: int = 8, now: datetime | None = None) -> dict[str, Any]:
        """What the dashboard's charts show, over the last ``weeks`` weeks (Monday to
        Sunday, UTC): copies disclosed per flow per week, refusals by rule, dead
        letters per week and still open, and urgent alerts' time to acknowledgement."""
        now = now or datetime.now(UTC)
        first = (now - timedelta(days=now.weekday() + 7 * (weeks - 1))).date()
        since = moment(first)
        week_starts = [first + timedelta(days=7 * i) for i in range(weeks)]
        volume: dict[str, dict[str, int]] = {}
        for day, flow, copies in self.query.disclosures_by_day_and_flow(since):
            week = _week_of(day)
            volume.setdefault(flow, {})
            volume[flow][week] = volume[flow].get(week, 0) + copies
        denials = self.query.refusals_by_rule(since)
        dead: dict[str, int] = {w.isoformat(): 0 for w in week_starts}
        for day, count in self.query.count_by_day(Action.UNDELIVERED, since).items():
            week = _week_of(day)
            if week in dead:
                dead[week] += count
        with self.runtime.store.engine.connect() as conn:
            still_open = conn.execute(
                sa.select(sa.func.count()).where(dead_letters.c.replayed_at.is_(None))
            ).scalar_one()
            clocks = conn.execute(
                sa.select(alert_clocks.c.started_at, alert_clocks.c.acknowledged_at)
                .join(exchanges, exchanges.c.exchange_id == alert_clocks.c.exchange_id)
                .where(exchanges.c.urgency.in_(URGENCIES), alert_clocks.c.started_at >= first)
            ).all()
        return {
            "weeks": [w.isoformat() for w in week_starts],
            "since": since,
            "volume_per_flow": {k: volume[k] for k in sorted(volume)},
            "denials_by_rule": dict(sorted(denials.items(), key=lambda kv: (-kv[1], kv[0]))),
            "dead_letters_per_week": dead,
            "dead_letters_open": int(still_open),
            "urgent_acknowledgement": acknowledgement_times(clocks),
        }


def record_consultation(
    runtime: Runtime, caller: Caller, exchange_id: str, via: str, envelope: Any = None
) -> None:
    """A *consultation* entry for a read of one exchange outside these pages (a
    partner's system reading its exchange's status): who, which exchange, whose
    record by audit pseudonym; never what it said."""
    details: dict[str, Any] = {
        "via": via,
        "consulted": "exchange status",
        "justification": "the sender follows up the exchange it submitted",
    }
    if isinstance(envelope, str | bytes):
        envelope = json.loads(envelope)
    named = envelope_pseudonyms(runtime.pipeline.pseudonym_key, envelope)
    if named:
        details["subject_pseudonyms"] = named
    if caller.client_id:
        details["client"] = caller.client_id
    trace_id = current_trace_id()
    if trace_id:
        details["trace_id"] = trace_id
    entry = AuditEntry(
        action=Action.CONSULTATION, actor=caller.actor, exchange_id=exchange_id, details=details
    )
    with runtime.store.transaction() as conn:
        append(conn, [entry])


def _week_of(recorded_at: str) -> str:
    day = date.fromisoformat(recorded_at[:10])
    return (day - timedelta(days=day.weekday())).isoformat()


def _utc(moment_: datetime) -> datetime:
    return moment_ if moment_.tzinfo else moment_.replace(tzinfo=UTC)


#: Time-to-acknowledgement bands, in minutes (upper bound exclusive).
ACK_BANDS = ((5, "under 5 minutes"), (15, "5 to 15 minutes"), (60, "15 to 60 minutes"))


def acknowledgement_times(clocks: Sequence[Any]) -> dict[str, Any]:
    """Urgent alerts' time from the copy's clock starting to its acknowledgement:
    counted in bands, with the median and 90th percentile, and those never
    acknowledged."""
    minutes = sorted(
        (_utc(acked) - _utc(started)).total_seconds() / 60
        for started, acked in clocks
        if acked is not None
    )
    bands = {label: 0 for _, label in ACK_BANDS} | {"an hour or more": 0}
    for value in minutes:
        label = next((lab for limit, lab in ACK_BANDS if value < limit), "an hour or more")
        bands[label] += 1
    bands["not acknowledged"] = sum(1 for _, acked in clocks if acked is None)

    def at(fraction: float) -> float | None:
        if not minutes:
            return None
        return round(minutes[min(len(minutes) - 1, int(fraction * len(minutes)))], 1)

    return {
        "alerts": len(clocks),
        "bands": bands,
        "median_minutes": at(0.5),
        "p90_minutes": at(0.9),
    }


def timeline_steps(
    entry: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """What one audit entry says happened to an exchange, as timeline steps; parties
    by their ``names`` where known (the steps' ``recipient`` stays the id)."""
    action, details = entry["action"], entry["details"]
    base = {"at": entry["recorded_at"], "seq": entry["seq"], "action": action}
    named = names or {}
    who = named.get(entry["actor"], entry["actor"])
    to_id = entry["recipient"]
    to = named.get(to_id, to_id) if to_id else to_id
    if action == Action.COLLECTION:
        return [
            {
                **base,
                "stage": "received",
                "summary": f"Received from {who} as {details.get('format')}: "
                f"{details.get('category')} for {details.get('purpose')}",
                "client": details.get("client"),
                "payload_sha256": details.get("payload_sha256"),
            }
        ]
    if action == Action.DISCLOSURE:
        return [
            {
                **base,
                "stage": "decided",
                "recipient": to_id,
                "effect": "permit",
                "rules": details.get("rules") or [],
                "summary": f"Permitted for {to} by {', '.join(details.get('rules') or [])} "
                f"({details.get('purpose')}; {details.get('lawful_basis')})",
            },
            {
                **base,
                "stage": "minimised",
                "recipient": to_id,
                "kept": details.get("disclosed") or [],
                "removed": details.get("removed") or [],
                "transformed": details.get("transformed") or [],
                "summary": f"Minimised for {to}: {len(details.get('disclosed') or [])} paths "
                f"kept, {len(details.get('removed') or [])} removed",
            },
        ]
    if action == Action.REFUSAL:
        steps = []
        for refused in details.get("refused") or []:
            party = str(refused.get("recipient"))
            rules = ", ".join(refused.get("rules") or []) or "default deny"
            reason = refused.get("reason") or ""
            steps.append(
                {
                    **base,
                    "stage": "decided",
                    "recipient": party,
                    "effect": "deny",
                    "rules": refused.get("rules") or [],
                    "summary": f"Refused for {named.get(party, party)} by {rules}"
                    + (f": {reason}" if reason else ""),
                }
            )
        return steps
    stages = {
        Action.TRANSMISSION: ("delivered", f"Delivered to {to} by {details.get('channel')}"),
        Action.UNDELIVERED: ("dead-lettered", f"Not delivered to {to}: dead-lettered"),
        Action.REDELIVERY: ("redelivered", f"Put back for delivery to {to} by {who}"),
        Action.ACKNOWLEDGEMENT: (
            "acknowledged",
            f"Acknowledged for {to} by {details.get('by') or who}",
        ),
        Action.ESCALATION: ("escalated", f"Escalated for {to}: step {details.get('step')}"),
        Action.NOTIFICATION: ("notified", f"People told for {to}"),
        Action.CONSULTATION: ("consulted", f"Viewed by {who} ({details.get('via')})"),
        Action.ALTERATION: ("altered", f"Altered by {who}"),
        Action.WITHDRAWAL: ("withdrawn", f"Withdrawn by {who}"),
        Action.COMBINATION: ("combined", f"Combined by {who}"),
    }
    stage, summary = stages.get(action, (action, f"{action} by {who}"))
    return [{**base, "stage": stage, "recipient": to_id, "summary": summary}]


def csv_rows(entries: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The entries as CSV text, a header first; lists joined by spaces. A cell that a
    spreadsheet would take for a formula is prefixed with a quote (CSV injection)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for entry in entries:
        buffer.seek(0)
        buffer.truncate()
        details = entry["details"]
        values = {
            **{k: entry.get(k) for k in ("seq", "recorded_at", "action", "actor")},
            "recipient": entry.get("recipient"),
            "exchange_id": entry.get("exchange_id"),
            "purpose": details.get("purpose") or " ".join(details.get("purposes") or []),
            "lawful_basis": details.get("lawful_basis"),
            "rules": " ".join(details.get("rules") or []),
            "subject_pseudonyms": " ".join(details.get("subject_pseudonyms") or {}),
            "paths_disclosed": " ".join(details.get("disclosed") or []),
            "paths_removed": " ".join(details.get("removed") or []),
            "payload_sha256": details.get("payload_sha256"),
            "policy_version": details.get("policy_version"),
            "trace_id": details.get("trace_id"),
            "entry_id": entry.get("entry_id"),
            "hash": entry.get("hash"),
        }
        writer.writerow([_cell(values[c]) for c in CSV_COLUMNS])
        yield buffer.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _no_store(body: Any) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def install_auditor(app: FastAPI, runtime: Runtime) -> Auditor:
    """The auditor's API on ``app`` (and its pages, ``gateway.api.auditor_pages``);
    without people's sign-in configured every one answers 404, as ``/auth`` does."""
    auditor = Auditor(runtime)

    def configured() -> None:
        if runtime.settings.oidc_issuer is None:
            raise SignInNotConfigured("people's sign-in is not configured (GATEWAY_OIDC_ISSUER)")

    from gateway.api.sign_in import require_csrf

    reader = Depends(require_role(*AUDIT_ROLES))
    api = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(configured)])

    @api.get("/entries")
    def search_entries(
        request: Request,
        exchange_id: str | None = Query(None, description="One exchange's entries."),
        subject: str | None = Query(
            None, description="A subject's audit pseudonym (POST /v1/audit/subjects finds it)."
        ),
        partner: str | None = Query(None, description="Acted for, received, or was refused."),
        purpose: str | None = Query(None),
        rule: str | None = Query(None, description="A flow, prohibition or rule id."),
        decision: str | None = Query(None, description="`permit` or `deny`."),
        action: str | None = Query(None, description="The s62 operation."),
        since: str | None = Query(None, description="From this time (ISO 8601), inclusive."),
        until: str | None = Query(None, description="Before this time (ISO 8601)."),
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=200, description="`next_cursor` of a page."),
        format: Literal["json", "csv"] = Query("json", description="`csv`: every match."),
        caller: Caller = reader,
    ) -> Response:
        """The entries that hold every filter given, newest first, a page at a time
        (``next_cursor`` continues); ``format=csv`` (or ``Accept: text/csv``) answers
        every matching entry as CSV. Audited as a consultation."""
        filters = filters_from(
            exchange_id=exchange_id,
            subject=subject,
            partner=partner,
            purpose=purpose,
            rule=rule,
            decision=decision,
            action=action,
            since=since,
            until=until,
        )
        wants_csv = format == "csv" or "text/csv" in request.headers.get("accept", "")
        if wants_csv:
            auditor.consulted(
                caller,
                "GET /v1/audit/entries?format=csv",
                "audit entries",
                filters=filters.as_query(),
                export="csv",
            )
            return StreamingResponse(
                csv_rows(auditor.query.all(filters)),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Cache-Control": "no-store",
                    "Content-Disposition": 'attachment; filename="audit-entries.csv"',
                },
            )
        try:
            page = auditor.query.search(filters, limit=limit, cursor=cursor)
        except BadCursor as bad:
            raise ClientError(str(bad)) from None
        auditor.consulted(
            caller, "GET /v1/audit/entries", "audit entries", filters=filters.as_query()
        )
        return _no_store(
            {
                "entries": page.entries,
                "next_cursor": page.next_cursor,
                "limit": limit,
                "filters": filters.as_query(),
            }
        )

    @api.post("/subjects", dependencies=[Depends(require_csrf)])
    def look_up_subject(lookup: SubjectLookup, caller: Caller = reader) -> Response:
        """The audit pseudonym of a person's identifier, and how many exchanges are
        about them. The identifier is posted (never in a URL), and not stored."""
        pseudonym = auditor.query.pseudonym(lookup.system, lookup.value, lookup.issuer)
        about = auditor.query.subject_exchanges(pseudonym)
        auditor.consulted(
            caller,
            "POST /v1/audit/subjects",
            "subject lookup",
            subject_pseudonyms={pseudonym: ""},
            identifier_system=lookup.system,
            exchanges=len(about),
        )
        return _no_store(
            {
                "subject": pseudonym,
                "system": lookup.system,
                "exchanges": len(about),
                "entries": f"/v1/audit/entries?subject={pseudonym}",
                "report": f"/v1/audit/subjects/{pseudonym}/report",
            }
        )

    @api.get("/subjects/{pseudonym}/report")
    def subject_access_report(pseudonym: str, caller: Caller = reader) -> Response:
        """Every disclosure about the subject across all partners, with the exemptions
        the DPO should consider marked. Audited (combination and consultation)."""
        if not is_pseudonym(pseudonym):
            raise NotFound(f"no subject {pseudonym}")
        return _no_store(
            auditor.subject_report(caller, pseudonym, "GET /v1/audit/subjects/{}/report")
        )

    @api.get("/exchanges/{exchange_id}")
    def exchange_timeline(exchange_id: str, caller: Caller = reader) -> Response:
        """The exchange's timeline from the audit trail. Audited as a consultation."""
        try:
            exchange_id = str(UUID(exchange_id))
        except ValueError:
            raise NotFound(f"no exchange {exchange_id}") from None
        found = auditor.timeline(exchange_id)
        auditor.consulted(
            caller, "GET /v1/audit/exchanges/{id}", "exchange timeline", exchange_id=exchange_id
        )
        return _no_store(found)

    @api.get("/chain")
    def chain(fresh: bool = Query(False), caller: Caller = reader) -> Response:
        """The audit chain verified now (``fresh``) or in the last 30 seconds."""
        return _no_store(auditor.chain_status(fresh=fresh))

    app.include_router(api)
    from gateway.api.auditor_pages import install_auditor_pages

    install_auditor_pages(app, runtime, auditor)
    return auditor


__all__ = [
    "AUDIT_ROLES",
    "Auditor",
    "SubjectLookup",
    "acknowledgement_times",
    "csv_rows",
    "filters_from",
    "install_auditor",
    "record_consultation",
    "timeline_steps",
]
