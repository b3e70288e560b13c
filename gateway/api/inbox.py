"""The recipient's inbox: the copies people at a desk must acknowledge.

An item is one acknowledgement clock (``gateway.alerts.clock``): a permitted
copy whose flow says it must be acknowledged. A person signed in (people's
sign-in, ``gateway.api.sign_in``) with the role ``spoc`` or ``duty`` sees the
items of the desks they staff (the routing rules name staff by OIDC subject or
email): those whose current step is at one of their desks, and those of their
desks' parties not yet acknowledged. Viewing an item is a *consultation* (DPA
2018 s62), audited with who, which exchange and whose copy, never its content;
it also marks the item read for that person.

    GET  /v1/inbox                          the items, newest first, filtered, paginated
    GET  /v1/inbox/{item_id}                one item: the copy as its recipient got it
    POST /v1/inbox/{item_id}/acknowledge    acknowledge for the recipient (CSRF token)
    GET  /inbox, /inbox/{item_id}           the same as web pages, rendered here
    POST /inbox/{item_id}/acknowledge       the page's form; back to the item (303)

A notification email's link (``gateway.notify.inbox_link``) is ``/inbox/<item
id>``. An item the person has no desk for is a 404, as an id nobody used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from gateway.alerts import clock
from gateway.api import page_shell
from gateway.audit import Action, AuditEntry
from gateway.audit.subjects import envelope_pseudonyms, traced
from gateway.errors import (
    GatewayError,
    NotFound,
    NotTheRecipient,
    SignInNotConfigured,
)
from gateway.identity.caller import Caller
from gateway.identity.people import CSRF, DUTY, SPOC, require_role, signed_in
from gateway.runtime import Runtime
from gateway.store.audit_log import append
from gateway.store.db import as_utc
from gateway.store.tables import alert_clocks, exchanges, inbox_reads, outbox

#: The roles that may use the inbox.
INBOX_ROLES = (SPOC, DUTY)
URGENCIES = ("urgent", "immediate")
MAX_LIMIT = 200


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class InboxDesk(_Answer):
    id: str
    name: str
    party: str


class InboxItem(_Answer):
    """One copy that must be acknowledged, as a person's inbox lists it."""

    item_id: str = Field(description="The acknowledgement clock's id (a UUID).")
    exchange_id: str
    recipient: str = Field(description="The party the copy is for.")
    recipient_name: str
    sender: str
    sender_name: str
    category: str
    purpose: str
    urgency: str
    urgent: bool
    received_at: datetime
    status: str = Field(
        description="`waiting`, `acknowledged`, `exhausted` (every step passed), "
        "`withdrawn` (the sender withdrew it) or `superseded` (the sender corrected it)."
    )
    step: int = Field(description="The escalation step it is at, from 1.")
    steps: int
    desk: InboxDesk | None = Field(description="The desk the current step is at.")
    deadline: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    read_at: datetime | None = Field(description="When you first read it; null: unread.")


class InboxPage(_Answer):
    items: list[InboxItem]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class InboxStep(_Answer):
    desk: InboxDesk
    acknowledge_within_seconds: float | None
    why: str
    reached: bool


class InboxItemDetail(InboxItem):
    """One item with the copy, minimised exactly as its recipient received it."""

    copy_: dict[str, Any] | None = Field(
        alias="copy",
        description="`format` `canonical` with the minimised `record` and the `decision`; "
        "another format's rendering as `body` text; null once retention erased the copy.",
    )
    escalation: list[InboxStep]
    history: list[dict[str, Any]]
    may_acknowledge: bool


class InboxAcknowledged(_Answer):
    item_id: str
    exchange_id: str
    recipient: str
    acknowledged_at: datetime
    acknowledged_by: str
    already: bool


ANSWER_MODELS: tuple[type[BaseModel], ...] = (InboxPage, InboxItemDetail, InboxAcknowledged)


@dataclass(frozen=True)
class Staff:
    """A person signed in, and the desks (and so the parties) they staff."""

    caller: Caller
    name: str | None
    desks: frozenset[str]
    parties: frozenset[str]
    csrf_token: str | None

    @property
    def person(self) -> str:
        assert self.caller.person is not None
        return self.caller.person


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()


def _clock_id(item_id: str) -> str | None:
    try:
        parsed = UUID(item_id)
    except ValueError:
        return None
    return str(parsed) if str(parsed) == item_id.lower() else None


class Inbox:
    """What the endpoints and pages share: who staffs what, and the items."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def routes(self) -> Any:
        return self.runtime.routes

    def staff(self, request: Request, caller: Caller) -> Staff:
        person = signed_in(request) or {}
        names = [caller.person or ""] + ([person["email"]] if person.get("email") else [])
        desks = frozenset(d for n in names if n for d in self.routes.desks_of(n))
        parties = frozenset(self.routes.desk(d).party for d in desks)
        return Staff(caller, person.get("name"), desks, parties, request.session.get(CSRF))

    def _candidate_parties(self, staff: Staff) -> set[str]:
        """The parties whose copies can reach the person's desks: their desks' own, and
        those whose routes name one of their desks (a fallback to another party)."""
        out = set(staff.parties)
        for route in self.routes.routes:
            spec = route.spec
            targets = [t for t in (spec.in_hours, spec.out_of_hours) if t is not None]
            named = {t.desk for t in targets} | {e.desk for t in targets for e in t.escalation}
            if named & staff.desks:
                out.add(spec.party)
        return out

    def desk(self, desk_id: str | None) -> dict[str, str] | None:
        if desk_id is None:
            return None
        desk = self.routes.desk(desk_id)
        return {"id": desk.id, "name": desk.name, "party": desk.party}

    def party_name(self, party: str) -> str:
        return str(self.routes.parties.get(party, party))

    # The rules: who sees an item, who may acknowledge it.

    @staticmethod
    def current_desk(row: Mapping[Any, Any]) -> str | None:
        steps = _loads(row["steps"])
        if not steps:
            return None
        return str(steps[min(row["step"], len(steps) - 1)]["desk"])

    def listed(self, row: Mapping[Any, Any], staff: Staff) -> bool:
        """In the person's inbox: at one of their desks now, or for one of their
        desks' parties and not acknowledged yet."""
        if self.current_desk(row) in staff.desks:
            return True
        return row["recipient"] in staff.parties and row["acknowledged_at"] is None

    def visible(self, row: Mapping[Any, Any], staff: Staff) -> bool:
        """May be opened: listed, for one of their desks' parties, or at one of their
        desks at an earlier step (they were told of it)."""
        if self.listed(row, staff) or row["recipient"] in staff.parties:
            return True
        steps = _loads(row["steps"])
        reached = steps[: min(row["step"], len(steps) - 1) + 1]
        return any(s["desk"] in staff.desks for s in reached)

    def may_acknowledge(self, row: Mapping[Any, Any], staff: Staff) -> bool:
        return row["recipient"] in staff.parties or self.current_desk(row) in staff.desks

    # Reading the store.

    def _select(self, person: str) -> sa.Select[Any]:
        reads = inbox_reads
        return (
            sa.select(
                alert_clocks,
                exchanges.c.source_partner,
                exchanges.c.category,
                exchanges.c.purpose,
                exchanges.c.urgency,
                reads.c.read_at,
            )
            .join(exchanges, exchanges.c.exchange_id == alert_clocks.c.exchange_id)
            .outerjoin(
                reads,
                sa.and_(reads.c.clock_id == alert_clocks.c.clock_id, reads.c.person == person),
            )
        )

    def items(
        self,
        staff: Staff,
        *,
        unread: bool | None = None,
        urgent: bool | None = None,
        unacknowledged: bool | None = None,
    ) -> list[dict[str, Any]]:
        """The person's items, newest first."""
        parties = self._candidate_parties(staff)
        if not parties:
            return []
        query = self._select(staff.person).where(alert_clocks.c.recipient.in_(sorted(parties)))
        if unread is not None:
            read = inbox_reads.c.read_at
            query = query.where(read.is_(None) if unread else read.is_not(None))
        if urgent is not None:
            is_urgent = exchanges.c.urgency.in_(URGENCIES)
            query = query.where(is_urgent if urgent else sa.not_(is_urgent))
        if unacknowledged is not None:  # still to be acknowledged: not withdrawn or corrected
            owed = sa.and_(
                alert_clocks.c.acknowledged_at.is_(None),
                alert_clocks.c.status.in_((clock.WAITING, clock.EXHAUSTED)),
            )
            query = query.where(owed if unacknowledged else sa.not_(owed))
        query = query.order_by(alert_clocks.c.started_at.desc(), alert_clocks.c.clock_id.desc())
        with self.runtime.store.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self.summary(row) for row in rows if self.listed(row, staff)]

    def row(self, conn: Connection, clock_id: str, person: str) -> Mapping[Any, Any] | None:
        query = self._select(person).where(alert_clocks.c.clock_id == clock_id)
        return conn.execute(query).mappings().first()

    def summary(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        steps = _loads(row["steps"])
        return {
            "item_id": row["clock_id"],
            "exchange_id": row["exchange_id"],
            "recipient": row["recipient"],
            "recipient_name": self.party_name(row["recipient"]),
            "sender": row["source_partner"],
            "sender_name": self.party_name(row["source_partner"]),
            "category": row["category"],
            "purpose": row["purpose"],
            "urgency": row["urgency"],
            "urgent": row["urgency"] in URGENCIES,
            "received_at": _iso(row["started_at"]),
            "status": row["status"],
            "step": min(row["step"], len(steps) - 1) + 1,
            "steps": len(steps),
            "desk": self.desk(self.current_desk(row)),
            "deadline": _iso(row["deadline"]),
            "acknowledged_at": _iso(row["acknowledged_at"]),
            "acknowledged_by": row["acknowledged_by"],
            "read_at": _iso(row["read_at"]),
        }

    def open(self, item_id: str, staff: Staff, via: str) -> dict[str, Any]:
        """One item with its copy: a consultation, audited, and marked read."""
        clock_id = _clock_id(item_id)
        now = datetime.now(UTC)
        with self.runtime.store.transaction() as conn:
            row = None if clock_id is None else self.row(conn, clock_id, staff.person)
            if row is None or not self.visible(row, staff):
                raise NotFound(f"no inbox item {item_id} for you")
            copy = _copy(conn, row["exchange_id"], row["recipient"])
            if row["read_at"] is None:
                _mark_read(conn, row["clock_id"], staff.person, now)
            append(
                conn,
                [
                    AuditEntry(
                        action=Action.CONSULTATION,
                        actor=staff.caller.actor,
                        recipient=row["recipient"],
                        exchange_id=row["exchange_id"],
                        details={
                            "item_id": row["clock_id"],
                            "via": via,
                            "desks": sorted(staff.desks),
                            "copy_held": copy is not None,
                            **_consulted(conn, row, self.runtime.pipeline.pseudonym_key),
                        },
                    )
                ],
            )
        steps = _loads(row["steps"])
        at = min(row["step"], len(steps) - 1)
        return {
            **self.summary(row),
            "read_at": _iso(row["read_at"]) or now.isoformat(),
            "copy": copy,
            "escalation": [
                {
                    "desk": self.desk(step["desk"]),
                    "acknowledge_within_seconds": step.get("seconds"),
                    "why": step.get("why", ""),
                    "reached": index <= at,
                }
                for index, step in enumerate(steps)
            ],
            "history": _loads(row["history"]),
            "may_acknowledge": self.may_acknowledge(row, staff),
        }

    def acknowledge(self, item_id: str, staff: Staff) -> dict[str, Any]:
        clock_id = _clock_id(item_id)
        with self.runtime.store.engine.connect() as conn:
            row = None if clock_id is None else self.row(conn, clock_id, staff.person)
        if row is None or not self.visible(row, staff):
            raise NotFound(f"no inbox item {item_id} for you")
        if not self.may_acknowledge(row, staff):
            raise NotTheRecipient(
                f"only the people of {row['recipient']}'s desks, or of the desk it is at now, "
                "may acknowledge it"
            )
        done = clock.acknowledge(
            self.runtime.store,
            row["exchange_id"],
            row["recipient"],
            staff.caller.actor,
            datetime.now(UTC),
        )
        return {
            "item_id": row["clock_id"],
            "exchange_id": done.exchange_id,
            "recipient": done.recipient,
            "acknowledged_at": done.acknowledged_at.isoformat(),
            "acknowledged_by": done.acknowledged_by,
            "already": done.already,
        }


def _copy(conn: Connection, exchange_id: str, recipient: str) -> dict[str, Any] | None:
    """The copy the recipient was sent (its Kafka delivery), as it was sent."""
    found = conn.execute(
        sa.select(outbox.c.payload, outbox.c.headers)
        .where(
            outbox.c.exchange_id == exchange_id,
            outbox.c.recipient == recipient,
            outbox.c.channel == "kafka",
        )
        .order_by(outbox.c.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    payload, headers = found
    headers = _loads(headers) or {}
    fmt = headers.get("isg-format", "canonical")
    if fmt == "canonical":
        envelope = json.loads(payload)
        return {
            "format": "canonical",
            "record": envelope.get("record"),
            "decision": envelope.get("decision"),
        }
    return {"format": fmt, "media_type": headers.get("content-type"), "body": payload}


def _consulted(conn: Connection, row: Mapping[Any, Any], key: bytes) -> dict[str, Any]:
    """What the consultation entry says about whose record and why (s62): the
    subjects' audit pseudonyms, the purpose it was shared for, the trace; no value."""
    envelope = conn.execute(
        sa.select(exchanges.c.envelope).where(exchanges.c.exchange_id == row["exchange_id"])
    ).scalar()
    found: dict[str, Any] = {
        "purpose": row["purpose"],
        "justification": "a person at a receiving desk reads a copy that must be acknowledged",
        "subject_pseudonyms": envelope_pseudonyms(key, _loads(envelope)),
    }
    return traced(found)


def _mark_read(conn: Connection, clock_id: str, person: str, now: datetime) -> None:
    values = {"clock_id": clock_id, "person": person, "read_at": now}
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(inbox_reads).values(values).on_conflict_do_nothing())
    elif conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(inbox_reads).values(values).on_conflict_do_nothing())
    else:
        conn.execute(inbox_reads.insert().values(values))


def install_inbox(app: FastAPI, runtime: Runtime) -> None:
    """The inbox's API and pages on ``app``; without people's sign-in configured
    (``oidc_issuer``) every one answers 404, as ``/auth`` does."""
    inbox = Inbox(runtime)

    def configured() -> None:
        if runtime.settings.oidc_issuer is None:
            raise SignInNotConfigured("people's sign-in is not configured (GATEWAY_OIDC_ISSUER)")

    def staff(request: Request, caller: Caller = Depends(require_role(*INBOX_ROLES))) -> Staff:
        return inbox.staff(request, caller)

    from gateway.api.sign_in import require_csrf

    api = APIRouter(prefix="/v1/inbox", tags=["inbox"], dependencies=[Depends(configured)])

    @api.get("")
    def list_inbox(
        unread: bool | None = Query(None, description="Only unread (true) or read (false)."),
        urgent: bool | None = Query(None, description="Only urgent and immediate (true)."),
        unacknowledged: bool | None = Query(None, description="Only not yet acknowledged."),
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0),
        person: Staff = Depends(staff),
    ) -> Response:
        """The items of the desks you staff, newest first."""
        found = inbox.items(person, unread=unread, urgent=urgent, unacknowledged=unacknowledged)
        page = found[offset : offset + limit]
        following = offset + limit if offset + limit < len(found) else None
        body = {
            "items": page,
            "total": len(found),
            "limit": limit,
            "offset": offset,
            "next_offset": following,
        }
        return _no_store_json(body)

    @api.get("/{item_id}")
    def get_inbox_item(item_id: str, person: Staff = Depends(staff)) -> Response:
        """One item: the copy as its recipient received it, and its clock. Audited as
        a consultation; marks it read."""
        return _no_store_json(inbox.open(item_id, person, "api"))

    @api.post("/{item_id}/acknowledge", dependencies=[Depends(require_csrf)])
    def acknowledge_inbox_item(item_id: str, person: Staff = Depends(staff)) -> Response:
        """Acknowledge the copy for its recipient: the clock stops."""
        return _no_store_json(inbox.acknowledge(item_id, person))

    app.include_router(api)
    _install_pages(app, runtime, inbox, require_csrf)


def _no_store_json(body: dict[str, Any]) -> Response:
    from fastapi.responses import JSONResponse

    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# The web pages, in the shell every page shares (``gateway.api.page_shell``).

_e = page_shell.e
_words = page_shell.words
_html = page_shell.html_response


def _page(title: str, body: str, staff: Staff | None, next_path: str = "/inbox") -> str:
    account = (
        None if staff is None else page_shell.Account(staff.name or staff.person, staff.csrf_token)
    )
    return page_shell.page(title, body, section="inbox", account=account, next_path=next_path)


def _install_pages(app: FastAPI, runtime: Runtime, inbox: Inbox, require_csrf: Any) -> None:
    zone = runtime.routes.timezone

    def local(moment: str | None, with_day: bool = True) -> str:
        if moment is None:
            return ""
        when = datetime.fromisoformat(moment).astimezone(zone)
        clock_time = when.strftime("%H:%M %Z")
        return (
            f"{clock_time}, {when.strftime('%a')} {when.day} {when.strftime('%b %Y')}"
            if (with_day)
            else clock_time
        )

    def status_words(item: Mapping[str, Any], me: Staff) -> str:
        if item["status"] == clock.ACKNOWLEDGED:
            by = item["acknowledged_by"] or ""
            who = "you" if by == me.caller.actor else by
            return f"Acknowledged by {who} at {local(item['acknowledged_at'])}"
        if item["status"] == clock.EXHAUSTED:
            return "Not acknowledged: every escalation step has passed"
        if item["status"] == clock.WITHDRAWN:
            return "Withdrawn by the sender: do not act on it"
        if item["status"] == clock.SUPERSEDED:
            return "Corrected by the sender: act on the corrected record"
        if item["deadline"] is None:
            return "Waiting — no deadline"
        return f"Waiting — deadline {local(item['deadline'])}"

    def tags(item: Mapping[str, Any]) -> str:
        words = ["URGENT"] + (["(immediate)"] if item["urgency"] == "immediate" else [])
        urgency = (
            f'<strong class="tag urgent">{_e(" ".join(words))}</strong>'
            if item["urgent"]
            else '<span class="tag routine">Routine</span>'
        )
        new = ' <strong class="tag new">NEW</strong>' if item["read_at"] is None else ""
        return urgency + new

    def person_or_redirect(request: Request, path: str) -> Staff | Response:
        configured = runtime.settings.oidc_issuer is not None
        if not configured:
            return _html(_page("Not found", "<h1>Page not found</h1>", None), 404)
        person = signed_in(request)
        if person is None:
            return RedirectResponse("/auth/login?" + urlencode({"next": path}), status_code=303)
        try:
            caller = require_role(*INBOX_ROLES)(
                Caller(person=person["sub"], roles=frozenset(person.get("roles") or ()))
            )
        except GatewayError as refused:
            body = (
                "<h1>You cannot use the inbox</h1>"
                f"<p>{_e(refused.detail)}. Ask your organisation's gateway administrator "
                "if you should have it.</p>"
            )
            return _html(_page("Not allowed", body, None), refused.status)
        return inbox.staff(request, caller)

    def not_found(me: Staff) -> HTMLResponse:
        body = (
            "<h1>Alert not found</h1><p>There is no alert with this link for the desks you "
            'staff.</p><p><a href="/inbox">Back to your inbox</a></p>'
        )
        return _html(_page("Alert not found", body, me), 404)

    @app.get("/inbox", include_in_schema=False)
    def inbox_page(request: Request) -> Response:
        me = person_or_redirect(request, "/inbox")
        if not isinstance(me, Staff):
            return me
        items = inbox.items(me)
        # Waiting before acknowledged, urgent first, then newest (items() is newest first).
        items.sort(key=lambda item: (item["acknowledged_at"] is not None, not item["urgent"]))
        waiting = sum(1 for item in items if item["acknowledged_at"] is None)
        desks = ", ".join(sorted(inbox.routes.desk(d).name for d in me.desks)) or "none"
        parts = [
            "<h1>Your inbox</h1>",
            f'<p class="muted">Desks you staff: {_e(desks)}.</p>',
            f"<p>{waiting or 'No'} alert{'s' if waiting != 1 else ''} waiting for "
            "acknowledgement.</p>",
        ]
        if not items:
            parts.append("<p>There is nothing in your inbox.</p>")
        else:
            rows = []
            for item in items:
                link = f"/inbox/{quote(item['item_id'])}"
                title = f"{_words(item['category'])} from {item['sender_name']}"
                desk = item["desk"]["name"] if item["desk"] else ""
                rows.append(
                    "<tr>"
                    f"<td>{tags(item)}</td>"
                    f'<th scope="row"><a href="{_e(link)}">{_e(title)}</a>'
                    f'<br><span class="muted">for {_e(item["recipient_name"])}</span></th>'
                    f"<td>{_e(local(item['received_at']))}</td>"
                    f'<td><span class="status {_e(item["status"])}">'
                    f"{_e(status_words(item, me))}</span></td>"
                    f'<td>{_e(desk)}<br><span class="muted">step {item["step"]} of '
                    f"{item['steps']}</span></td>"
                    "</tr>"
                )
            parts.append(
                '<table><caption class="muted" style="text-align:left">Urgent alerts '
                "first, then the newest</caption><thead><tr>"
                '<th scope="col">Priority</th><th scope="col">Alert</th>'
                '<th scope="col">Received</th><th scope="col">Status</th>'
                '<th scope="col">At desk</th></tr></thead><tbody>'
                + "".join(rows)
                + "</tbody></table>"
            )
        return _html(_page("Your inbox", "\n".join(parts), me))

    @app.get("/inbox/{item_id}", include_in_schema=False)
    def inbox_item_page(item_id: str, request: Request) -> Response:
        path = f"/inbox/{quote(item_id)}"
        me = person_or_redirect(request, path if _clock_id(item_id) else "/inbox")
        if not isinstance(me, Staff):
            return me
        try:
            item = inbox.open(item_id, me, "page")
        except NotFound:
            return not_found(me)
        title = f"{_words(item['category'])} from {item['sender_name']}"
        urgency = "URGENT: " if item["urgent"] and not title.lower().startswith("urgent") else ""
        if item["urgent"] and not urgency:
            title = "URGENT" + title[len("urgent") :]
        status = item["status"]
        panel = [f'<div class="panel {_e(status)}" role="status">']
        panel.append(f'<p class="status {_e(status)}">{_e(status_words(item, me))}</p>')
        stopped = status in (clock.WITHDRAWN, clock.SUPERSEDED)
        if status != clock.ACKNOWLEDGED and not stopped and item["desk"]:
            panel.append(
                f"<p>Step {item['step']} of {item['steps']}: {_e(item['desk']['name'])}.</p>"
            )
        if status == clock.ACKNOWLEDGED or stopped:
            panel.append(
                "<p>The clock has stopped: no one else will be told to acknowledge it.</p>"
            )
        elif item["may_acknowledge"]:
            panel.append(
                f'<form method="post" action="{_e(path)}/acknowledge">'
                f'<input type="hidden" name="csrf_token" value="{_e(me.csrf_token)}">'
                f'<button type="submit">Acknowledge for {_e(item["recipient_name"])}</button>'
                "</form>"
            )
        else:
            panel.append(
                "<p>It has moved on to another desk; only that desk or the recipient's own "
                "people can acknowledge it now.</p>"
            )
        panel.append("</div>")
        facts = {
            "Priority": f"URGENT ({item['urgency']})" if item["urgent"] else "Routine",
            "From": item["sender_name"],
            "For": item["recipient_name"],
            "Received": local(item["received_at"]),
            "Purpose": _words(item["purpose"]),
        }
        parts = [
            '<p><a href="/inbox">Back to your inbox</a></p>',
            f"<h1>{_e(urgency + title)}</h1>",
            "".join(panel),
            "<h2>About this alert</h2>",
            _facts(facts),
            f"<h2>The record as {_e(item['recipient_name'])} received it</h2>",
            _copy_html(item["copy"]),
            "<h2>Who is told, and when</h2>",
            _steps_html(item["escalation"]),
        ]
        return _html(_page(urgency + title, "\n".join(parts), me, path))

    @app.post("/inbox/{item_id}/acknowledge", include_in_schema=False)
    async def acknowledge_page(item_id: str, request: Request) -> Response:
        path = f"/inbox/{quote(item_id)}"
        me = person_or_redirect(request, path if _clock_id(item_id) else "/inbox")
        if not isinstance(me, Staff):
            return me
        try:
            await require_csrf(request)
        except GatewayError:
            body = (
                "<h1>Not acknowledged</h1><p>The form was out of date. "
                f'<a href="{_e(path)}">Open the alert again</a> and acknowledge it there.</p>'
            )
            return _html(_page("Not acknowledged", body, me), 403)
        try:
            inbox.acknowledge(item_id, me)
        except NotFound:
            return not_found(me)
        except NotTheRecipient as refused:
            body = f"<h1>Not acknowledged</h1><p>{_e(refused.detail)}.</p>"
            return _html(_page("Not acknowledged", body, me), 403)
        return RedirectResponse(path, status_code=303)


def _facts(facts: Mapping[str, Any]) -> str:
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts.items())
    return f'<dl class="facts">{rows}</dl>'


def _value_html(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">none</span>'
        rows = "".join(
            f"<dt>{_e(_words(str(k)))}</dt><dd>{_value_html(v)}</dd>" for k, v in value.items()
        )
        return f'<dl class="facts">{rows}</dl>'
    if isinstance(value, list):
        if not value:
            return '<span class="muted">none</span>'
        return "<ol>" + "".join(f"<li>{_value_html(v)}</li>" for v in value) + "</ol>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(value)


def _copy_html(copy: Mapping[str, Any] | None) -> str:
    if copy is None:
        return "<p>The copy is no longer held: its retention period has ended.</p>"
    if copy.get("format") != "canonical":
        return (
            f"<p>Received as {_e(copy.get('format'))} ({_e(copy.get('media_type'))}):</p>"
            f"<pre>{_e(copy.get('body'))}</pre>"
        )
    decision = copy.get("decision") or {}
    note = (
        '<p class="muted">Only the fields the agreement lets this recipient see. '
        f"Shared for {_e(_words(str(decision.get('purpose', ''))))}"
        + (f" ({_e(decision['lawful_basis'])})" if decision.get("lawful_basis") else "")
        + ".</p>"
    )
    record = copy.get("record") or {}
    first = [key for key in _RECORD_ORDER if key in record]
    ordered = {key: record[key] for key in [*first, *(k for k in record if k not in first)]}
    return note + _value_html(ordered)


#: The record's members shown first: who it is about and what it says, then the rest.
_RECORD_ORDER = ("category", "urgency", "subjects", "payload", "case_reference")


def _steps_html(steps: list[Mapping[str, Any]]) -> str:
    items = []
    for step in steps:
        seconds = step["acknowledge_within_seconds"]
        within = (
            "no deadline" if seconds is None else f"{int(seconds // 60)} minutes to acknowledge"
        )
        reached = " (told)" if step["reached"] else ""
        desk = step["desk"] or {}
        items.append(f"<li>{_e(desk.get('name'))}: {_e(within)}{_e(reached)}</li>")
    return '<ol class="steps">' + "".join(items) + "</ol>"
