"""Lint: the schema and the meaning of an agreement, every finding at once.

Loading already refuses what cannot run (unknown names, unknown fields,
special-category data without an Art 9 condition). Lint adds what runs but is
wrong: a rule that can never match, two rules that conflict, a field shared
against a prohibition, a transform that makes no sense for its field, a
catalogue that leaves fields out. Errors block a reload; warnings do not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from contracts.marks import Mark
from gateway.errors import PolicyLoadError
from gateway.policy.bundle import PolicyBundle, load_bundle
from gateway.policy.compile import applies_to, free_text_without_a_condition
from gateway.policy.conditions import RANK
from gateway.policy.fields import (
    allowed_values,
    canonical,
    covers,
    leaf_type,
    leaves,
    marked,
    segments,
)
from gateway.policy.model import ANY, Flow, Transform

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: str
    where: str  # "file.yaml:12" or the directory
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class LintResult:
    bundle: PolicyBundle | None
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def ok(self) -> bool:
        return self.bundle is not None and not self.errors


def lint(
    directory: Path | str, today: dt.date | None = None, previous: PolicyBundle | None = None
) -> LintResult:
    """Load and check a bundle; with ``previous`` (the bundle in force, or the one
    it replaces), also that a change came with a new version."""
    try:
        bundle = load_bundle(directory)
    except PolicyLoadError as exc:
        findings = [
            Finding(ERROR, str(p.record or directory), f"{p.field}: {p.message}")
            for p in exc.problems
        ] or [Finding(ERROR, str(directory), exc.detail)]
        return LintResult(None, tuple(findings))
    findings = check_meaning(bundle, today or dt.date.today())
    if previous is not None:
        findings += version_kept(bundle, previous)
    return LintResult(bundle, tuple(findings))


def version_kept(bundle: PolicyBundle, previous: PolicyBundle) -> list[Finding]:
    """Files changed but the agreement's version did not: decisions made under the two
    would name the same version."""
    if bundle.version == previous.version or bundle.agreement_version != previous.agreement_version:
        return []
    return [
        Finding(
            WARNING,
            str(bundle.directory),
            f"the policy files changed but the agreement's version is still "
            f"{bundle.agreement_version!r}: raise it, so decisions name the change",
        )
    ]


def check_meaning(bundle: PolicyBundle, today: dt.date) -> list[Finding]:
    findings: list[Finding] = []
    findings += _catalogue(bundle)
    for flow in bundle.flows:
        findings += _never_matches(bundle, flow, today)
        findings += _bad_transforms(bundle, flow)
        findings += _everything_except(bundle, flow)
        findings += _free_text_without_a_condition(bundle, flow)
        findings += _against_prohibitions(bundle, flow)
    findings += _conflicts(bundle)
    findings += _unused(bundle)
    return findings


def _at(bundle: PolicyBundle, kind: str, key: str) -> str:
    return bundle.locations.get(f"{kind}:{key}", str(bundle.directory))


def _catalogue(bundle: PolicyBundle) -> list[Finding]:
    where = str(bundle.directory)
    out = []
    catalogued = [segments(p) for p in bundle.catalogue]
    missing = [leaf for leaf in leaves() if not any(covers(c, leaf) for c in catalogued)]
    if missing:
        names = ", ".join(canonical(".".join(m)) for m in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        out.append(
            Finding(
                WARNING, where, f"field catalogue leaves out {len(missing)} fields: {names}{more}"
            )
        )
    for special in marked(Mark.SPECIAL_CATEGORY):
        path = ".".join(special)
        category = bundle.category_of(path)
        if category is not None and not category.special_category:
            out.append(
                Finding(
                    ERROR,
                    where,
                    f"the contract marks {path} special category but the catalogue files it "
                    f"under {category.id!r}, which is not marked special_category",
                )
            )
    return out


def _never_matches(bundle: PolicyBundle, flow: Flow, today: dt.date) -> list[Finding]:
    where = _at(bundle, "flows", flow.id)
    out = []

    def never(why: str) -> None:
        out.append(Finding(ERROR, where, f"flow {flow.id!r} can never match: {why}"))

    if flow.valid_from and flow.valid_until and flow.valid_until < flow.valid_from:
        never(f"valid_until {flow.valid_until} is before valid_from {flow.valid_from}")
    elif flow.valid_until and flow.valid_until < today:
        out.append(Finding(WARNING, where, f"flow {flow.id!r} expired on {flow.valid_until}"))
    senders = list(bundle.parties) if ANY in flow.senders else flow.senders
    recipients = list(bundle.parties) if ANY in flow.recipients else flow.recipients
    if all(s == r for s in senders for r in recipients):
        never("its only recipient is its sender")
    for condition in flow.when:
        values = allowed_values(condition.field)
        operand = condition.operand
        listed = operand if isinstance(operand, list) else [operand]
        if condition.operator in {"in", "not_in"} and not listed:
            never(f"condition on {condition.field} has an empty list")
        if condition.operator == "at_least" and not (
            isinstance(operand, int) or str(operand) in RANK
        ):
            never(f"at_least {operand!r} is not a number or a risk level")
        if values is not None and condition.operator in {"equals", "in"}:
            bad = [v for v in listed if str(v) not in values and not isinstance(v, bool)]
            if bad and len(bad) == len(listed):
                never(
                    f"{condition.field} is never {', '.join(map(repr, bad))}; "
                    f"expected one of: {', '.join(values)}"
                )
            elif bad:
                out.append(
                    Finding(
                        ERROR,
                        where,
                        f"flow {flow.id!r}: {condition.field} is never "
                        f"{', '.join(map(repr, bad))}; expected one of: {', '.join(values)}",
                    )
                )
        if condition.operator == "in_recipient_areas":
            for recipient in recipients:
                if not bundle.parties[recipient].areas:
                    never(f"{condition.field} is routed by area but {recipient} declares no areas")
        if condition.operator == "is_recipient_pdu":
            for recipient in recipients:
                if not bundle.parties[recipient].pdu:
                    never(f"{condition.field} is routed by PDU but {recipient} declares no pdu")
        if condition.roles and segments(condition.field)[0] != "subjects":
            never(f"roles only apply to subjects[] fields, not {condition.field}")
    for rule in bundle.flows:
        if rule.effect != "deny" or rule.when or flow.effect != "permit" or rule is flow:
            continue
        if _deny_covers(rule, flow, bundle):
            never(f"the unconditional deny {rule.id!r} always wins")
    return out


def _expand(values: list[str], everything: list[str]) -> set[str]:
    return set(everything) if ANY in values else set(values)


def _deny_covers(deny: Flow, permit: Flow, bundle: PolicyBundle) -> bool:
    parties = list(bundle.parties)
    return (
        _expand(permit.senders, parties) <= _expand(deny.senders, parties)
        and _expand(permit.recipients, parties) <= _expand(deny.recipients, parties)
        and {str(c) for c in permit.categories}
        <= {str(c) for c in deny.categories}
        | ({str(c) for c in permit.categories} if ANY in deny.categories else set())
        and (not deny.purposes or set(permit.purposes) <= set(deny.purposes))
    )


def _everything_except(bundle: PolicyBundle, flow: Flow) -> list[Finding]:
    """A section shared minus a few dropped fields: whatever the contract adds to the
    section later is shared too, unseen. An agreement names what it shares."""
    rules = flow.field_rules()
    out = []
    for section in rules:
        if section.transform is Transform.DROP:
            continue
        outer = segments(section.path)
        dropped = [
            r.path
            for r in rules
            if r.transform is Transform.DROP
            and segments(r.path) != outer
            and covers(outer, segments(r.path))
        ]
        if dropped:
            out.append(
                Finding(
                    WARNING,
                    _at(bundle, "flows", flow.id),
                    f"flow {flow.id!r} shares {section.path} except {', '.join(dropped)}: "
                    "list the fields it shares instead (an allow-list)",
                )
            )
    return out


def _free_text_without_a_condition(bundle: PolicyBundle, flow: Flow) -> list[Finding]:
    """Free text may hold anything a person typed, health details included, so it is
    treated as possibly special category: shared whole only under a flow with an
    Article 9 and Schedule 1 (or, in law enforcement, a Schedule 8) condition."""
    shared = [canonical(".".join(text)) for text in free_text_without_a_condition(flow)]
    if not shared:
        return []
    return [
        Finding(
            WARNING,
            _at(bundle, "flows", flow.id),
            f"flow {flow.id!r} shares free text ({', '.join(shared)}) with no special "
            "category condition: free text may hold health details; name the condition "
            "(special_category_condition), or drop or truncate it",
        )
    ]


def _bad_transforms(bundle: PolicyBundle, flow: Flow) -> list[Finding]:
    where = _at(bundle, "flows", flow.id)
    out = []
    for rule in flow.field_rules():
        kind = leaf_type(rule.path)
        problem = None
        if rule.transform is Transform.AGE_BAND and kind not in (dt.date, dt.datetime):
            problem = "age-band needs a date field such as subjects[].date_of_birth"
        elif rule.transform is Transform.POSTCODE_DISTRICT and not rule.path.endswith("postcode"):
            problem = "postcode-district needs a postcode field"
        elif rule.transform in (Transform.TRUNCATE, Transform.MASK) and kind is not str:
            problem = f"{rule.transform.value} needs a text field"
        elif rule.max_length is not None and rule.transform is not Transform.TRUNCATE:
            problem = "max_length only applies to truncate"
        if problem:
            out.append(Finding(ERROR, where, f"flow {flow.id!r}, field {rule.path}: {problem}"))
    return out


def _against_prohibitions(bundle: PolicyBundle, flow: Flow) -> list[Finding]:
    """A flow that names a field a prohibition forbids: the prohibition wins; say so."""
    if flow.effect != "permit":
        return []
    out = []
    recipients = list(bundle.parties) if ANY in flow.recipients else flow.recipients
    for rule in bundle.prohibitions:
        if rule.subject_roles:
            continue  # it removes the field only for some subjects: not a contradiction
        hit = [r for r in recipients if applies_to(rule, bundle.parties[r])]
        if not hit:
            continue
        for shared in flow.field_rules():
            if shared.transform is Transform.DROP:
                continue
            for forbidden in rule.fields:
                if covers(segments(forbidden), segments(shared.path)):
                    out.append(
                        Finding(
                            ERROR,
                            _at(bundle, "flows", flow.id),
                            f"conflict: flow {flow.id!r} shares {shared.path} with "
                            f"{', '.join(hit)} but prohibition {rule.id!r} forbids it; "
                            "the prohibition wins, so take the field out of the flow",
                        )
                    )
    return out


def _unconditional(flow: Flow) -> bool:
    """A permit that applies to every record of its sender, recipient, category and
    purpose: nothing after it can decide."""
    return not (flow.when or flow.to_owners or flow.consent or flow.valid_from or flow.valid_until)


def _conflicts(bundle: PolicyBundle) -> list[Finding]:
    """Two permits for the same sender, recipient, category and purpose."""
    out = []
    seen: dict[tuple[str, str, str, str], Flow] = {}
    for compiled_key, compiled in bundle.index.items():
        for entry in compiled:
            flow = entry.flow
            if flow.effect != "permit":
                continue
            for purpose in flow.purposes:
                key = (*compiled_key, purpose)
                first = seen.setdefault(key, flow)
                if first is flow:
                    continue
                same_conditions = (first.when, first.to_owners, first.consent) == (
                    flow.when,
                    flow.to_owners,
                    flow.consent,
                )
                if same_conditions or _unconditional(first):
                    message = (
                        f"conflict: flows {first.id!r} and {flow.id!r} both permit "
                        f"{key[2]} from {key[0]} to {key[1]} for {purpose}; "
                        f"{first.id!r} comes first and always wins, so {flow.id!r} never decides"
                    )
                    finding = Finding(ERROR, _at(bundle, "flows", flow.id), message)
                    if finding not in out:
                        out.append(finding)
    return out


def _unused(bundle: PolicyBundle) -> list[Finding]:
    out = []
    used_parties = set()
    flows = list(bundle.flows)
    if bundle.safety_net is not None:
        flows.append(bundle.safety_net.flow)
    for flow in flows:
        used_parties |= set(flow.senders) | set(flow.recipients)
    if ANY not in used_parties:
        for party in bundle.parties:
            if party not in used_parties:
                out.append(
                    Finding(
                        WARNING, _at(bundle, "parties", party), f"party {party!r} is in no flow"
                    )
                )
    used_bases = {f.lawful_basis for f in flows} | {f.special_category_condition for f in flows}
    for basis in bundle.lawful_bases:
        if basis not in used_bases:
            out.append(
                Finding(
                    WARNING, _at(bundle, "lawful_bases", basis), f"lawful basis {basis!r} is unused"
                )
            )
    used_purposes = {p for f in flows for p in f.purposes}
    for purpose in bundle.purposes:
        if purpose not in used_purposes:
            out.append(
                Finding(WARNING, _at(bundle, "purposes", purpose), f"purpose {purpose!r} is unused")
            )
    tags = {t for p in bundle.parties.values() for t in p.tags}
    for rule in bundle.prohibitions:
        for tag in rule.to_tags:
            if tag not in tags:
                out.append(
                    Finding(
                        ERROR,
                        _at(bundle, "prohibitions", rule.id),
                        f"prohibition {rule.id!r} protects nothing: no party has tag {tag!r}",
                    )
                )
    return out
