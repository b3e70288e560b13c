"""The auditor's dashboard: web pages over ``gateway.api.auditor``, rendered here.

    GET  /auditor                                 overview: search, chain status, charts
    GET  /auditor/search                          entries matching the filters, a page at a time
    POST /auditor/subject                         an identifier (form, CSRF) -> the subject's page
    GET  /auditor/subjects/{pseudonym}            the entries about one person
    GET  /auditor/subjects/{pseudonym}/report     the subject access report, printable
    GET  /auditor/exchanges/{exchange_id}         an exchange's timeline

Plain HTML in the shared shell (``gateway.api.page_shell``): no script, no CDN,
charts as bars drawn with CSS whose values are written beside them, each with
a table holding the same figures. Every page viewed is audited as a
consultation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway.api import page_shell
from gateway.api.auditor import (
    ACTIONS,
    AUDIT_ROLES,
    Auditor,
    SubjectLookup,
    filters_from,
)
from gateway.audit.query import BadCursor
from gateway.audit.subjects import is_pseudonym
from gateway.errors import GatewayError, NotFound
from gateway.identity.caller import Caller
from gateway.identity.people import CSRF, require_role, signed_in
from gateway.runtime import Runtime

e = page_shell.e
words = page_shell.words

LINKS = (("Overview", "/auditor"), ("Search the trail", "/auditor/search"))
SYSTEM_NAMES = {
    "nhs_number": "NHS number",
    "pnc_id": "PNC ID",
    "crn": "CRN (probation case reference)",
    "noms_number": "NOMS number",
    "local": "Local identifier",
}

STYLE = """
form.search { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr));
  gap: .8rem 1.2rem; align-items: end; margin: .5rem 0 1rem; }
form.search .wide { grid-column: 1 / -1; }
form.search input, form.search select { width: 100%; box-sizing: border-box; }
.hint { font-weight: 400; color: #505a5f; font-size: .92rem; display: block; }
.panel.verified { border-color: #00703c; background: #f0f7f2; }
.panel.broken { border-color: #942514; background: #fcebe4; }
.panel.unchecked { border-color: #6e3619; background: #fff7e6; }
.chart { list-style: none; padding: 0; margin: .4rem 0; }
.chart li { display: grid; grid-template-columns: minmax(9rem, 16rem) 1fr minmax(5rem, auto);
  gap: .6rem; align-items: center; margin: .25rem 0; }
.chart .track { background: #f3f2f1; border: 1px solid #b1b4b6; height: 1.3rem; }
.chart .bar { display: block; height: 100%; background: #1d70b8;
  background-image: repeating-linear-gradient(45deg, transparent 0 6px,
  rgba(255,255,255,.35) 6px 9px); min-width: 2px; }
.chart .bar.zero { background: none; min-width: 0; }
.chart .value { font-weight: 700; font-variant-numeric: tabular-nums; }
table.figures td.n, table.figures th.n { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: .4rem 0 1.2rem; }
table.weekly td { padding: .3rem .4rem; vertical-align: bottom; }
table.weekly th[scope=row] { vertical-align: bottom; }
table.weekly .column { display: flex; align-items: flex-end; justify-content: flex-end;
  height: 2.4rem; margin-bottom: .15rem; }
table.weekly .column .bar { display: block; width: 1.1rem; background: #1d70b8;
  background-image: repeating-linear-gradient(45deg, transparent 0 6px,
  rgba(255,255,255,.35) 6px 9px); min-height: 2px; }
table.weekly .column .bar.zero { min-height: 0; }
summary { cursor: pointer; color: #1d70b8; text-decoration: underline; }
summary:focus-visible { outline: 3px solid #fd0; box-shadow: 0 0 0 6px #0b0c0c; }
ol.timeline { list-style: none; padding: 0; border-left: 4px solid #0b0c0c; margin-left: .4rem; }
ol.timeline > li { margin: 0 0 1rem; padding-left: 1rem; position: relative; }
ol.timeline > li::before { content: ""; position: absolute; left: -.6rem; top: .45rem;
  width: .8rem; height: .8rem; background: #fff; border: 3px solid #0b0c0c; }
.stage { display: inline-block; font-weight: 700; text-transform: uppercase; font-size: .85rem;
  letter-spacing: .04em; border: 2px solid #0b0c0c; padding: 0 .35rem; margin-right: .4rem; }
.stage.deny { border-style: dashed; }
ul.paths { columns: 2; margin: .2rem 0; }
ul.paths li { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .9rem; }
.exemption { border-left: 4px solid #0b0c0c; padding: .2rem .8rem; margin: .4rem 0; }
.exemption p { margin: .15rem 0; }
.report section { border-top: 2px solid #0b0c0c; padding-top: .4rem; margin-top: 1rem; }
code { overflow-wrap: anywhere; }
.pager { display: flex; gap: 1.5rem; margin: 1rem 0; }
@media print {
  .report section { break-inside: avoid; }
  .exemption { border-left: 2pt solid #000; }
  .print-note { display: none; }
}
"""


class _Person:
    def __init__(self, caller: Caller, name: str, csrf: str | None) -> None:
        self.caller = caller
        self.account = page_shell.Account(name, csrf)


def _local(moment: str | None) -> str:
    if not moment:
        return ""
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%d %b %Y %H:%M:%S UTC")


def _facts(facts: Mapping[str, Any]) -> str:
    rows = "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts.items())
    return f'<dl class="facts">{rows}</dl>'


def _paths(paths: list[Any]) -> str:
    if not paths:
        return '<p class="muted">none</p>'
    return '<ul class="paths">' + "".join(f"<li>{e(p)}</li>" for p in paths) + "</ul>"


def counted(value: int, unit: tuple[str, str]) -> str:
    """``1 copy``, ``2 copies``: ``unit`` is (one, many)."""
    return f"{value} {unit[0] if value == 1 else unit[1]}"


def bar_chart(
    title: str,
    rows: list[tuple[str, int]],
    unit: tuple[str, str],
    *,
    column: str,
    heading: str = "h3",
    none: str = "None in this period.",
) -> str:
    """A horizontal bar chart with each value written beside its bar, and the same
    figures as a table for anyone who would rather read one."""
    if not any(value for _, value in rows):
        return f"<{heading}>{e(title)}</{heading}><p>{e(none)}</p>"
    top = max(value for _, value in rows) or 1
    bars = "".join(
        f"<li><span>{e(label)}</span>"
        f'<span class="track" aria-hidden="true"><span class="bar{" zero" if not value else ""}"'
        f' style="width:{round(100 * value / top, 1)}%"></span></span>'
        f'<span class="value">{e(counted(value, unit))}</span></li>'
        for label, value in rows
    )
    table = (
        f'<details><summary>{e(title)} as a table</summary><table class="figures">'
        f'<thead><tr><th scope="col">{e(column)}</th>'
        f'<th scope="col" class="n">{e(unit[1].capitalize())}</th></tr></thead><tbody>'
        + "".join(
            f'<tr><th scope="row">{e(label)}</th><td class="n">{value}</td></tr>'
            for label, value in rows
        )
        + "</tbody></table></details>"
    )
    return f'<{heading}>{e(title)}</{heading}><ul class="chart">{bars}</ul>{table}'


def _search_link(**filters: str) -> str:
    """The search page for ``filters`` (a chart's row leads to its entries)."""
    return "/auditor/search?" + urlencode(filters)


def _week_label(week: str) -> str:
    return "w/c " + datetime.fromisoformat(week).strftime("%d %b")


def charts_html(stats: Mapping[str, Any]) -> str:
    weeks: list[str] = stats["weeks"]
    parts = [
        f'<h2 id="charts">The last {len(weeks)} weeks</h2>',
        f'<p class="muted">Weeks start on Monday (UTC), from {e(_week_label(weeks[0]))}.</p>',
    ]
    # Copies disclosed per flow per week: a column per week in each flow's row, its
    # number written under it, so the chart is itself a table.
    volume: Mapping[str, Mapping[str, int]] = stats["volume_per_flow"]
    parts.append("<h3>Copies disclosed per flow per week</h3>")
    if not volume:
        parts.append("<p>No copies were disclosed in this period.</p>")
    else:
        top = max((n for per_week in volume.values() for n in per_week.values()), default=1) or 1
        head = "".join(f'<th scope="col" class="n">{e(_week_label(w))}</th>' for w in weeks)
        body = []
        for flow, per_week in volume.items():
            cells = []
            for w in weeks:
                n = int(per_week.get(w, 0))
                height = round(100 * n / top, 1)
                cells.append(
                    f'<td class="n"><span class="column" aria-hidden="true"><span class="bar'
                    f'{" zero" if not n else ""}" style="height:{height}%"></span></span>{n}</td>'
                )
            total = sum(int(v) for v in per_week.values())
            body.append(
                f'<tr><th scope="row"><a href="{e(_search_link(rule=flow, decision="permit"))}">'
                f"{e(flow)}</a></th>{''.join(cells)}"
                f'<td class="n"><strong>{total}</strong></td></tr>'
            )
        parts.append(
            '<table class="figures weekly"><caption class="muted" style="text-align:left">'
            "Copies disclosed, by the flow that permitted them: each week's number is "
            "written under its column</caption>"
            f'<thead><tr><th scope="col">Flow</th>{head}<th scope="col" class="n">Total</th>'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        plain = "".join(
            f'<tr><th scope="row">{e(flow)}</th>'
            + "".join(f'<td class="n">{per_week.get(w, 0)}</td>' for w in weeks)
            + "</tr>"
            for flow, per_week in volume.items()
        )
        parts.append(
            "<details><summary>Copies per flow per week as a plain table</summary>"
            f'<table class="figures"><thead><tr><th scope="col">Flow</th>{head}</tr></thead>'
            f"<tbody>{plain}</tbody></table></details>"
        )
    denials = list(stats["denials_by_rule"].items())
    parts.append(
        bar_chart(
            "Refusals by rule",
            denials,
            ("refusal", "refusals"),
            column="Rule",
            none="No recipient was refused in this period.",
        )
    )
    dead = [(_week_label(w), int(n)) for w, n in stats["dead_letters_per_week"].items()]
    parts.append(
        bar_chart(
            "Dead letters per week",
            dead,
            ("dead letter", "dead letters"),
            column="Week",
            none="No copy was dead-lettered in this period.",
        )
    )
    parts.append(
        f"<p>Dead letters still open (not put back for delivery): "
        f"<strong>{int(stats['dead_letters_open'])}</strong>.</p>"
    )
    ack = stats["urgent_acknowledgement"]
    summary = (
        f"{counted(ack['alerts'], ('urgent alert copy', 'urgent alert copies'))}; "
        f"median {ack['median_minutes']} minutes, "
        f"90th percentile {ack['p90_minutes']} minutes to acknowledgement."
        if ack["median_minutes"] is not None
        else f"{counted(ack['alerts'], ('urgent alert copy', 'urgent alert copies'))}; "
        "none acknowledged yet."
    )
    parts.append(
        bar_chart(
            "Urgent alerts by time to acknowledgement",
            list(ack["bands"].items()),
            ("alert", "alerts"),
            column="Time to acknowledgement",
            none="No urgent alert in this period.",
        )
    )
    parts.append(f"<p>{e(summary)}</p>")
    return "\n".join(parts)


def chain_html(status: Mapping[str, Any]) -> str:
    state = status.get("status", "unchecked")
    if state == "verified":
        used = status.get("algorithms") or {}
        algorithms = "hashed with " + (
            ", ".join(f"{alg} ({n} entries)" for alg, n in used.items())
            if len(used) > 1
            else ", ".join(used)
        )
        lines = [
            "<p><strong>Chain verified.</strong> "
            f"{status.get('entries')} entries re-hashed, none changed, removed, inserted or "
            "reordered"
            + (
                f"; the decisions of {status['exchanges_checked']} exchanges match their entries"
                if status.get("exchanges_checked")
                else ""
            )
            + ".</p>",
            f'<p class="muted">Checked {e(_local(status.get("checked_at")))}'
            + (f"; {e(algorithms)}" if used else "")
            + ".</p>",
        ]
    elif state == "broken":
        bad = status.get("first_bad_entry") or {}
        lines = [
            "<p><strong>Chain broken.</strong> The first bad entry is number "
            f"{e(bad.get('seq'))} ({e(bad.get('kind'))}): {e(bad.get('message'))}</p>",
            "<p>Tell the data protection officer and the gateway's operators now.</p>",
        ]
    else:
        lines = [f"<p><strong>Chain not checked.</strong> {e(status.get('detail'))}</p>"]
    checkpoints = status.get("checkpoints")
    if checkpoints is None:
        lines.append('<p class="muted">Signed checkpoints: not checked.</p>')
    elif not checkpoints.get("count"):
        lines.append(
            "<p>Signed checkpoints: <strong>none yet</strong>; the gateway signs one at its "
            "interval, or when an operator runs <code>gateway audit checkpoint</code>.</p>"
        )
    else:
        latest = checkpoints.get("latest") or {}
        since = int(checkpoints.get("entries_since") or 0)
        lines.append(
            f"<p>Signed checkpoints: <strong>{e(checkpoints['count'])} checked</strong>; the "
            f"newest covers entries up to number {e(latest.get('upto_seq'))}, signed "
            f"{e(_local(latest.get('created_at')))} with key {e(latest.get('key_id'))}. "
            + (
                f"{e(counted(since, ('entry', 'entries')))} since, each sealed.</p>"
                if since
                else "No entry since.</p>"
            )
        )
    for note in status.get("notes") or []:
        lines.append(f'<p class="muted">{e(note)}</p>')
    return (
        f'<div class="panel {e(state)}" role="status" id="chain-status">'
        + "".join(lines)
        + '<p class="no-print"><a href="/auditor?verify=now#chain">Check the chain now</a></p>'
        "</div>"
    )


def _options(values: list[tuple[str, str]], chosen: str | None) -> str:
    return '<option value="">Any</option>' + "".join(
        f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(label)}</option>'
        for v, label in values
    )


def search_form(auditor: Auditor, given: Mapping[str, str]) -> str:
    parties = sorted(auditor.parties().items(), key=lambda kv: kv[1].name)

    def text(name: str, label: str, hint: str = "", kind: str = "text") -> str:
        hint_html = f'<span class="hint" id="{name}-hint">{e(hint)}</span>' if hint else ""
        described = f' aria-describedby="{name}-hint"' if hint else ""
        return (
            f'<div><label for="{name}">{e(label)}{hint_html}</label>'
            f'<input id="{name}" name="{name}" type="{kind}" value="{e(given.get(name, ""))}"'
            f"{described}></div>"
        )

    def select(name: str, label: str, values: list[tuple[str, str]]) -> str:
        return (
            f'<div><label for="{name}">{e(label)}</label><select id="{name}" name="{name}">'
            f"{_options(values, given.get(name))}</select></div>"
        )

    return (
        '<form class="search" method="get" action="/auditor/search" role="search" '
        'aria-label="Search the audit trail">'
        + text("exchange_id", "Exchange id", "The exchange's UUID")
        + select("partner", "Partner", [(pid, p.name) for pid, p in parties])
        + text("purpose", "Purpose", "e.g. victim-safeguarding")
        + text("rule", "Rule", "A flow or prohibition id")
        + select("decision", "Decision", [("permit", "Permitted"), ("deny", "Refused")])
        + select("action", "Operation", [(a, words(a)) for a in ACTIONS])
        + text("since", "From", "Date (inclusive)", "date")
        + text("until", "Before", "Date (exclusive)", "date")
        + (
            f'<input type="hidden" name="subject" value="{e(given["subject"])}">'
            if given.get("subject")
            else ""
        )
        + '<div><button type="submit">Search</button></div></form>'
    )


def subject_form(csrf: str | None) -> str:
    systems = "".join(f'<option value="{k}">{e(v)}</option>' for k, v in SYSTEM_NAMES.items())
    return (
        '<form class="search" method="post" action="/auditor/subject" '
        'aria-label="Find a person by identifier">'
        f'<input type="hidden" name="csrf_token" value="{e(csrf)}">'
        f'<div><label for="system">Identifier</label><select id="system" name="system">'
        f"{systems}</select></div>"
        '<div><label for="value">Value<span class="hint" id="value-hint">Sent to the gateway '
        "only to compute the audit pseudonym; never stored or shown.</span></label>"
        '<input id="value" name="value" type="text" autocomplete="off" required '
        'aria-describedby="value-hint" maxlength="64"></div>'
        '<div><label for="issuer">Issued by<span class="hint" id="issuer-hint">For a local '
        'identifier only</span></label><input id="issuer" name="issuer" type="text" '
        'aria-describedby="issuer-hint" maxlength="100"></div>'
        '<div><button type="submit">Find this person</button></div></form>'
    )


def entries_table(auditor: Auditor, entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return "<p>No entries match.</p>"
    rows = []
    for entry in entries:
        details = entry["details"]
        exchange = entry["exchange_id"]
        link = (
            f'<a href="/auditor/exchanges/{e(quote(exchange))}">{e(exchange[:8])}…</a>'
            if exchange
            else '<span class="muted">none</span>'
        )
        why = details.get("purpose") or " ".join(details.get("purposes") or [])
        rules = ", ".join(details.get("rules") or [])
        if entry["action"] == "refusal":
            refused = details.get("refused") or []
            by_rule: dict[str, list[str]] = {}
            for r in refused:
                key = ", ".join(r.get("rules") or []) or "no rule"
                by_rule.setdefault(key, []).append(str(r.get("recipient")))
            rules = "; ".join(f"{key} refused {', '.join(names)}" for key, names in by_rule.items())
        rows.append(
            "<tr>"
            f"<td>{e(entry['seq'])}</td>"
            f"<td>{e(_local(entry['recorded_at']))}</td>"
            f'<td><span class="stage">{e(entry["action"])}</span></td>'
            f"<td>{e(entry['actor'])}</td>"
            f"<td>{e(auditor.party_name(entry['recipient']))}</td>"
            f"<td>{link}</td>"
            f'<td>{e(why)}<br><span class="muted">{e(rules)}</span></td>'
            "</tr>"
        )
    return (
        '<table><caption class="muted" style="text-align:left">Newest first</caption><thead><tr>'
        '<th scope="col">No.</th><th scope="col">Recorded</th><th scope="col">Operation</th>'
        '<th scope="col">Who</th><th scope="col">Recipient</th><th scope="col">Exchange</th>'
        '<th scope="col">Purpose and rules</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def timeline_html(auditor: Auditor, timeline: Mapping[str, Any]) -> str:
    items = []
    for step in timeline["steps"]:
        stage = step["stage"]
        effect = step.get("effect")
        label = f"{stage}: {'permitted' if effect == 'permit' else 'refused'}" if effect else stage
        extra = ""
        if stage == "minimised":
            extra = (
                f"<h4>Paths kept ({len(step['kept'])})</h4>{_paths(step['kept'])}"
                f"<h4>Paths removed ({len(step['removed'])})</h4>{_paths(step['removed'])}"
            )
            if step.get("transformed"):
                extra += "<h4>Transformed</h4>" + _paths(
                    [f"{t.get('path')} ({t.get('transform')})" for t in step["transformed"]]
                )
        elif stage == "received" and step.get("payload_sha256"):
            extra = f'<p class="muted">Payload <code>{e(step["payload_sha256"])}</code></p>'
        items.append(
            f'<li><h3><span class="stage{" deny" if effect == "deny" else ""}">{e(label)}'
            f"</span> {e(_local(step['at']))}</h3><p>{e(step['summary'])}</p>{extra}</li>"
        )
    held = (
        ""
        if timeline["held"]
        else "<p>The exchange's record is no longer held (its retention period ended); "
        "the audit trail keeps what happened.</p>"
    )
    return held + '<ol class="timeline">' + "".join(items) + "</ol>"


def report_html(found: Mapping[str, Any], name: Callable[[str], str] = str) -> str:
    """The printable report; ``name`` gives a party's name for its id."""
    parts = [
        '<div class="report">',
        '<p class="print-note no-print">This page is made to be printed: use your '
        "browser's Print command (Ctrl+P).</p>",
        _facts(
            {
                "Subject (audit pseudonym)": f"<code>{e(found['subject'])}</code>",
                "Compiled": e(_local(found["generated_at"])),
                "Exchanges about them": e(found["exchanges"]),
                "Disclosures": e(len(found["disclosures"])),
                "Partners involved": e(", ".join(map(name, found["partners"])) or "none"),
            }
        ),
        f"<p><strong>Exemptions.</strong> {e(found['exemptions_note'])}</p>",
        "<h2>Disclosures</h2>",
    ]
    if not found["disclosures"]:
        parts.append("<p>No disclosure about this person is recorded.</p>")
    for number, item in enumerate(found["disclosures"], 1):
        exemptions = item["exemptions"]
        ex_html = (
            "".join(
                f'<div class="exemption"><p><strong>Candidate: {e(x["provision"])}</strong> '
                f"({e(x['regime'])})</p><p>Ground: {e(x['ground'])}.</p>"
                f"<p>Flagged because {e(x['why_flagged'])}.</p>"
                f"<p>Decision: <strong>{e(x['decision'])}</strong> ☐ applies ☐ does not "
                "apply</p></div>"
                for x in exemptions
            )
            if exemptions
            else "<p>No exemption is flagged for this disclosure.</p>"
        )
        parts.append(
            f'<section aria-labelledby="d{number}"><h3 id="d{number}">{number}. '
            f"{e(item['recipient_name'])} received a "
            f"{e(str(item['category'] or 'record').replace('_', ' '))} "
            f"from {e(item['sender_name'])}</h3>"
            + _facts(
                {
                    "When": e(_local(item["disclosed_at"])),
                    "Their role in the record": e(item["subject_role"] or "not stated"),
                    "Purpose": e(item["purpose"]),
                    "Lawful basis": e(item["lawful_basis"]),
                    "Special category condition": e(item["special_category_condition"] or "none"),
                    "Rule": e(", ".join(item["rules"])),
                    "Delivered": e(_local(item["delivered_at"]) or "not recorded"),
                    "Acknowledged": e(_local(item["acknowledged_at"]) or "no"),
                    "Withdrawn": e(_local(item["withdrawn_at"]) or "no"),
                    "Exchange": f"<code>{e(item['exchange_id'])}</code>",
                }
            )
            + f"<h4>What they received (fields)</h4>{_paths(item['paths_disclosed'])}"
            + f"<h4>Exemptions to consider</h4>{ex_html}</section>"
        )
    if found["refusals"]:
        parts.append("<h2>Refused: not shared</h2><ul>")
        parts += [
            f"<li>{e(_local(r['decided_at']))}: {e(name(r['recipient']))} — "
            f"{e(', '.join(r['rules']) or 'default deny')}</li>"
            for r in found["refusals"]
        ]
        parts.append("</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def install_auditor_pages(app: FastAPI, runtime: Runtime, auditor: Auditor) -> None:
    def page(title: str, body: str, me: _Person | None, path: str, status: int = 200) -> Response:
        text = page_shell.page(
            title,
            body,
            section="audit",
            account=None if me is None else me.account,
            next_path=path,
            links=LINKS if me is not None else (),
            current=path.split("?")[0],
            style=STYLE,
        )
        return page_shell.html_response(text, status)

    def person_or_redirect(request: Request, path: str) -> _Person | Response:
        if runtime.settings.oidc_issuer is None:
            return page("Not found", "<h1>Page not found</h1>", None, path, 404)
        person = signed_in(request)
        if person is None:
            return RedirectResponse("/auth/login?" + urlencode({"next": path}), status_code=303)
        try:
            caller = require_role(*AUDIT_ROLES)(
                Caller(person=person["sub"], roles=frozenset(person.get("roles") or ()))
            )
        except GatewayError as refused:
            body = (
                "<h1>You cannot use the audit pages</h1>"
                f"<p>{e(refused.detail)}. Ask your organisation's gateway administrator "
                "if you should have it.</p>"
            )
            return page("Not allowed", body, None, path, refused.status)
        name = person.get("name") or person["sub"]
        return _Person(caller, str(name), request.session.get(CSRF))

    @app.get("/auditor", include_in_schema=False)
    def overview(request: Request, verify: str | None = None) -> Response:
        me = person_or_redirect(request, "/auditor")
        if not isinstance(me, _Person):
            return me
        chain = auditor.chain_status(fresh=verify == "now")
        stats = auditor.statistics()
        auditor.consulted(me.caller, "page /auditor", "audit overview")
        body = "\n".join(
            [
                "<h1>Audit trail</h1>",
                '<h2 id="chain">The chain</h2>',
                chain_html(chain),
                "<h2>Search the trail</h2>",
                search_form(auditor, {}),
                "<h2>Find a person</h2>",
                "<p>Every exchange about one person, and their subject access report.</p>",
                subject_form(me.account.csrf_token),
                charts_html(stats),
            ]
        )
        return page("Audit trail", body, me, "/auditor")

    @app.get("/auditor/search", include_in_schema=False)
    def search(request: Request) -> Response:
        path = "/auditor/search"
        me = person_or_redirect(request, path)
        if not isinstance(me, _Person):
            return me
        given = {k: v for k, v in request.query_params.items() if v}
        cursor = given.pop("cursor", None)
        try:
            filters = filters_from(
                **{
                    name: given.get(name)
                    for name in (
                        "exchange_id",
                        "subject",
                        "partner",
                        "purpose",
                        "rule",
                        "decision",
                        "action",
                        "since",
                        "until",
                    )
                }
            )
            found = auditor.query.search(filters, limit=50, cursor=cursor)
        except (RequestValidationError, BadCursor) as bad:
            message = (
                "; ".join(f"{err['loc'][-1]}: {err['msg']}" for err in bad.errors())
                if isinstance(bad, RequestValidationError)
                else str(bad)
            )
            body = (
                "<h1>Search the audit trail</h1>"
                f'<div class="panel broken" role="alert"><p>{e(message)}</p></div>'
                + search_form(auditor, given)
            )
            return page("Search the audit trail", body, me, path, 400)
        auditor.consulted(
            me.caller, "page /auditor/search", "audit entries", filters=filters.as_query()
        )
        more = ""
        if found.next_cursor:
            link = path + "?" + urlencode({**filters_query(given), "cursor": found.next_cursor})
            more = f'<p class="pager"><a href="{e(link)}">Older entries</a></p>'
        body = (
            "<h1>Search the audit trail</h1>"
            + search_form(auditor, given)
            + f'<h2 id="results">Entries ({len(found.entries)}'
            + (" shown, more below" if found.next_cursor else "")
            + ")</h2>"
            + entries_table(auditor, found.entries)
            + more
        )
        return page("Search the audit trail", body, me, path)

    def filters_query(given: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in given.items() if k != "cursor"}

    @app.post("/auditor/subject", include_in_schema=False)
    async def find_subject(request: Request) -> Response:
        me = person_or_redirect(request, "/auditor")
        if not isinstance(me, _Person):
            return me
        from gateway.api.sign_in import require_csrf

        try:
            await require_csrf(request)
        except GatewayError:
            body = (
                "<h1>Not searched</h1><p>The form was out of date. "
                '<a href="/auditor">Go back to the overview</a> and search again.</p>'
            )
            return page("Not searched", body, me, "/auditor", 403)
        form = await request.form()
        try:
            lookup = SubjectLookup(
                system=str(form.get("system") or ""),
                value=str(form.get("value") or ""),
                issuer=str(form.get("issuer")) if form.get("issuer") else None,
            )
        except ValidationError:
            body = (
                "<h1>Find a person</h1>"
                '<div class="panel broken" role="alert"><p>Choose an identifier and give its '
                "value (up to 64 characters).</p></div>" + subject_form(me.account.csrf_token)
            )
            return page("Find a person", body, me, "/auditor", 422)
        pseudonym = auditor.query.pseudonym(lookup.system, lookup.value, lookup.issuer)
        auditor.consulted(
            me.caller,
            "page POST /auditor/subject",
            "subject lookup",
            subject_pseudonyms={pseudonym: ""},
            identifier_system=lookup.system,
        )
        return RedirectResponse(f"/auditor/subjects/{pseudonym}", status_code=303)

    @app.get("/auditor/subjects/{pseudonym}", include_in_schema=False)
    def subject_page(pseudonym: str, request: Request) -> Response:
        path = f"/auditor/subjects/{quote(pseudonym)}"
        me = person_or_redirect(request, path if is_pseudonym(pseudonym) else "/auditor")
        if not isinstance(me, _Person):
            return me
        if not is_pseudonym(pseudonym):
            return page("Not found", "<h1>No such person</h1>", me, path, 404)
        about = auditor.query.subject_exchanges(pseudonym)
        filters = filters_from(
            exchange_id=None,
            subject=pseudonym,
            partner=None,
            purpose=None,
            rule=None,
            decision=None,
            action=None,
            since=None,
            until=None,
        )
        found = auditor.query.search(filters, limit=100)
        auditor.consulted(
            me.caller,
            "page /auditor/subjects/{pseudonym}",
            "subject entries",
            subject_pseudonyms={pseudonym: ""},
        )
        more = ""
        if found.next_cursor:
            link = "/auditor/search?" + urlencode(
                {"subject": pseudonym, "cursor": found.next_cursor}
            )
            more = f'<p class="pager"><a href="{e(link)}">Older entries</a></p>'
        body = (
            "<h1>One person's entries</h1>"
            + _facts(
                {
                    "Audit pseudonym": f"<code>{e(pseudonym)}</code>",
                    "Exchanges about them": e(len(about)),
                }
            )
            + f'<p><a href="{e(path)}/report">Subject access report (printable)</a></p>'
            + "<h2>Entries</h2>"
            + entries_table(auditor, found.entries)
            + more
        )
        return page("One person's entries", body, me, path)

    @app.get("/auditor/subjects/{pseudonym}/report", include_in_schema=False)
    def subject_report_page(pseudonym: str, request: Request) -> Response:
        path = f"/auditor/subjects/{quote(pseudonym)}/report"
        me = person_or_redirect(request, path if is_pseudonym(pseudonym) else "/auditor")
        if not isinstance(me, _Person):
            return me
        if not is_pseudonym(pseudonym):
            return page("Not found", "<h1>No such person</h1>", me, path, 404)
        found = auditor.subject_report(me.caller, pseudonym, "page /auditor/subjects/{}/report")
        body = "<h1>Subject access report</h1>" + report_html(found, auditor.party_name)
        return page("Subject access report", body, me, path)

    @app.get("/auditor/exchanges/{exchange_id}", include_in_schema=False)
    def exchange_page(exchange_id: str, request: Request) -> Response:
        try:
            exchange_id = str(UUID(exchange_id))
        except ValueError:
            exchange_id = ""
        path = f"/auditor/exchanges/{exchange_id}" if exchange_id else "/auditor"
        me = person_or_redirect(request, path)
        if not isinstance(me, _Person):
            return me
        try:
            if not exchange_id:
                raise NotFound("no such exchange")
            timeline = auditor.timeline(exchange_id)
        except NotFound:
            body = (
                "<h1>Exchange not found</h1><p>The audit trail has no entry for this "
                'exchange.</p><p><a href="/auditor/search">Search the trail</a></p>'
            )
            return page("Exchange not found", body, me, path, 404)
        auditor.consulted(
            me.caller,
            "page /auditor/exchanges/{id}",
            "exchange timeline",
            exchange_id=exchange_id,
        )
        facts = {
            "Exchange": f"<code>{e(exchange_id)}</code>",
            "From": e(auditor.party_name(timeline["sender"])),
            "Category": e(words(str(timeline["category"] or "")) or "not held"),
            "Urgency": e(timeline["urgency"] or "not held"),
            "Entries": e(len(timeline["entries"])),
        }
        query = urlencode({"exchange_id": exchange_id})
        body = (
            "<h1>Exchange timeline</h1>"
            + _facts(facts)
            + f'<p><a href="/auditor/search?{e(query)}">Its entries as a table</a></p>'
            + "<h2>What happened</h2>"
            + timeline_html(auditor, timeline)
        )
        return page("Exchange timeline", body, me, path)


__all__ = ["bar_chart", "charts_html", "install_auditor_pages", "report_html"]
