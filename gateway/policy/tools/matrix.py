"""The sharing matrix for the agreement's appendix, in Markdown and HTML.

Who may share what with whom, for which purpose, on which basis; then what
is explicitly denied and what never crosses. Built from the loaded bundle, so
the appendix always matches the policy in force (its hash is printed).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.policy.bundle import PolicyBundle
from gateway.policy.conditions import describe
from gateway.policy.model import ANY, Flow

HEADERS = (
    "From",
    "To",
    "Data",
    "Purpose",
    "Lawful basis",
    "Fields (data category)",
    "Conditions",
    "Obligations",
    "Rule",
)


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def _parties(bundle: PolicyBundle, ids: list[str]) -> str:
    if ANY in ids:
        return "any party"
    return "; ".join(bundle.parties[i].name for i in ids)


def _basis(bundle: PolicyBundle, flow: Flow) -> str:
    text = bundle.lawful_bases[flow.lawful_basis].citation if flow.lawful_basis else ""
    if flow.special_category_condition:
        text += "; Art 9: " + bundle.lawful_bases[flow.special_category_condition].citation
    return text


def _fields(bundle: PolicyBundle, flow: Flow) -> str:
    items = []
    for rule in flow.field_rules():
        category = bundle.category_of(rule.path)
        label = rule.path
        if rule.transform.value != "keep":
            label += f" as {rule.transform.value}"
        label += f" ({category.id if category else 'uncatalogued'}"
        label += ", special category)" if bundle.is_special(rule.path) else ")"
        items.append(label)
    return "; ".join(items)


def _conditions(flow: Flow) -> str:
    parts = [describe(c) for c in flow.when]
    if flow.to_owners:
        parts.append(f"to the owner of each item of {flow.to_owners.items}, that item only")
    if flow.consent:
        reasons = ", ".join(flow.consent.without_consent) or "none"
        parts.append(f"consent, or without it: {reasons}")
    if flow.valid_from or flow.valid_until:
        parts.append(f"in force {flow.valid_from or '...'} to {flow.valid_until or '...'}")
    return "; ".join(parts) or "none"


def tables(bundle: PolicyBundle) -> list[Table]:
    permits = [
        (
            _parties(bundle, flow.senders),
            _parties(bundle, flow.recipients),
            ", ".join(map(str, flow.categories)),
            ", ".join(flow.purposes),
            _basis(bundle, flow),
            _fields(bundle, flow),
            _conditions(flow),
            "; ".join(flow.obligations.as_terms()) or "none",
            flow.id,
        )
        for flow in bundle.flows
        if flow.effect == "permit"
    ]
    denies = [
        (
            _parties(bundle, flow.senders),
            _parties(bundle, flow.recipients),
            ", ".join(map(str, flow.categories)),
            ", ".join(flow.purposes) or "any",
            _conditions(flow),
            flow.description,
            flow.id,
        )
        for flow in bundle.flows
        if flow.effect == "deny"
    ]
    never = [
        (
            "; ".join(rule.fields),
            "; ".join(
                [_parties(bundle, rule.to)] * bool(rule.to)
                + [f"parties tagged {', '.join(rule.to_tags)}"] * bool(rule.to_tags)
            ),
            ", ".join(map(str, rule.subject_roles)) or "every subject",
            rule.description,
            rule.id,
        )
        for rule in bundle.prohibitions
    ]
    never += [
        (
            "subjects[].address; subjects[].safe_contact",
            "; ".join(p.name for p in bundle.parties.values() if p.perpetrator_facing) or "none",
            "victim",
            "A victim's location never reaches a perpetrator-facing service (contract mark).",
            "mark:victim-location",
        ),
        (
            "the whole exchange, when a subject is marked restricted or excluded",
            "; ".join(p.name for p in bundle.parties.values() if not p.honours_access_marks),
            "any",
            "Only parties that can limit a case to named staff receive restricted cases.",
            "mark:restricted-access",
        ),
    ]
    parties = [
        (
            party.name,
            party.id,
            party.kind,
            ", ".join(party.areas) or "-",
            "yes" if party.perpetrator_facing else "no",
            "yes" if party.honours_access_marks else "no",
        )
        for party in bundle.parties.values()
    ]
    return [
        Table(
            "Parties",
            ("Party", "Id", "Kind", "Areas", "Perpetrator-facing", "Receives restricted cases"),
            parties,
        ),
        Table("Permitted sharing", HEADERS, permits),
        Table(
            "Explicitly denied",
            ("From", "To", "Data", "Purpose", "When", "Why", "Rule"),
            denies,
        ),
        Table(
            "Never shared, whatever a flow permits",
            ("Fields", "Never to", "Subjects", "Why", "Rule"),
            never,
        ),
    ]


def _title(bundle: PolicyBundle) -> str:
    return f"{bundle.agreement_title}, version {bundle.agreement_version}"


def _footer(bundle: PolicyBundle) -> str:
    return (
        f"Generated from policy bundle {bundle.version}. Anything not listed as permitted "
        "is refused (deny by default)."
    )


def markdown(bundle: PolicyBundle) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Sharing matrix: {_title(bundle)}", ""]
    for table in tables(bundle):
        lines += [f"## {table.title}", ""]
        if not table.rows:
            lines += ["None.", ""]
            continue
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append("|" + "---|" * len(table.headers))
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
        lines.append("")
    lines.append(_footer(bundle))
    return "\n".join(lines) + "\n"


def to_html(bundle: PolicyBundle) -> str:
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Sharing matrix: {esc(_title(bundle))}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}th,td{border:1px solid #999;padding:4px 6px;vertical-align:top;"
        "font-size:90%}th{background:#eee}</style>",
        "</head><body>",
        f"<h1>Sharing matrix: {esc(_title(bundle))}</h1>",
    ]
    for table in tables(bundle):
        parts.append(f"<h2>{esc(table.title)}</h2>")
        if not table.rows:
            parts.append("<p>None.</p>")
            continue
        parts.append("<table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in table.headers]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table>")
    parts += [f"<p>{esc(_footer(bundle))}</p>", "</body></html>"]
    return "\n".join(parts) + "\n"
