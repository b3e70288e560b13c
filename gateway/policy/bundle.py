"""Loading a policy directory into a checked, compiled, hashable bundle.

A bundle is every ``*.yaml`` file directly in the policy directory (policy
tests live under ``tests/`` and are not part of it). Loading checks every name
a flow uses (parties, purposes, lawful bases, justifications, field paths),
refuses special-category data without an Art 9 condition, and compiles flows
into a lookup table keyed by (sender, recipient, category): deciding is a
dictionary lookup and a few closures, never a scan of the agreement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import Category
from contracts.marks import Mark
from gateway.errors import FieldProblem, PolicyLoadError
from gateway.policy.compile import CompiledFlow, compile_flows, compile_safety_net
from gateway.policy.fields import covers, is_known, marked, overlaps, segments
from gateway.policy.model import (
    ANY,
    DataCategory,
    Flow,
    Justification,
    LawfulBasis,
    Party,
    PolicyDocument,
    Prohibition,
    Purpose,
    Retention,
    Transform,
)
from gateway.policy.source import Source


@dataclass(frozen=True)
class Located:
    """A declaration and where it was written, so later checks can name the line."""

    item: Any
    source: Source
    loc: tuple[int | str, ...]

    @property
    def where(self) -> str:
        return self.source.where(self.loc)


@dataclass(frozen=True)
class PolicyBundle:
    directory: Path
    version: str  # "sha256:<hex>" of the files' names and bytes
    agreement_id: str
    agreement_title: str
    agreement_version: str
    parties: dict[str, Party]
    purposes: dict[str, Purpose]
    lawful_bases: dict[str, LawfulBasis]
    justifications: dict[str, Justification]
    data_categories: dict[str, DataCategory]
    catalogue: dict[str, str]
    flows: tuple[Flow, ...]
    prohibitions: tuple[Prohibition, ...]
    index: dict[tuple[str, str, str], tuple[CompiledFlow, ...]] = field(repr=False)
    #: The agreement's designated fallback for an immediate record nobody may receive.
    safety_net: CompiledFlow | None = field(repr=False, default=None)
    #: How long the gateway keeps records and its audit trail (None: kept until erased
    #: by hand); ``retention_periods`` reads it as times.
    retention: Retention | None = field(repr=False, default=None)
    locations: dict[str, str] = field(repr=False, default_factory=dict)  # id -> "file:line"
    files: tuple[Path, ...] = ()

    def candidates(self, sender: str) -> list[str]:
        """Every party the sender could in principle share with: all others."""
        return [p for p in self.parties if p != sender]

    def flow(self, flow_id: str) -> Flow:
        return next(f for f in self.flows if f.id == flow_id)

    def category_of(self, path: str) -> DataCategory | None:
        """The data category of a field: the catalogue's closest enclosing entry."""
        best: tuple[int, str] | None = None
        target = segments(path)
        for catalogued, category in self.catalogue.items():
            segs = segments(catalogued)
            if covers(segs, target) and (best is None or len(segs) > best[0]):
                best = (len(segs), category)
        return self.data_categories.get(best[1]) if best else None

    def is_special(self, path: str) -> bool:
        """Special-category data by contract mark or by the catalogue."""
        segs = segments(path)
        if any(overlaps(m, segs) for m in marked(Mark.SPECIAL_CATEGORY)):
            return True
        for catalogued, category in self.catalogue.items():
            known = self.data_categories.get(category)
            if known and known.special_category and overlaps(segments(catalogued), segs):
                return True
        return False


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def bundle_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


class _Collector:
    """Merges documents, remembering where each declaration was written."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []
        self.tables: dict[str, dict[str, Located]] = {
            k: {}
            for k in (
                "parties",
                "purposes",
                "lawful_bases",
                "justifications",
                "data_categories",
                "flows",
                "prohibitions",
            )
        }
        self.catalogue: dict[str, Located] = {}
        self.agreements: list[Located] = []

    def add(self, source: Source, doc: PolicyDocument) -> None:
        if doc.agreement:
            self.agreements.append(Located(doc.agreement, source, ("agreement",)))
        for kind, table in self.tables.items():
            for i, item in enumerate(getattr(doc, kind)):
                loc = (kind, i)
                if item.id in table:
                    first = table[item.id].where
                    self.problems.append(
                        source.problem(loc, f"{item.id!r} is declared twice (first at {first})")
                    )
                table[item.id] = Located(item, source, loc)
        for path, category in doc.field_catalogue.items():
            self.catalogue[path] = Located(category, source, ("field_catalogue", path))

    def items(self, kind: str) -> dict[str, Any]:
        return {k: v.item for k, v in self.tables[kind].items()}


LABELS = {
    "parties": "party",
    "purposes": "purpose",
    "lawful_bases": "lawful basis",
    "justifications": "justification",
    "data_categories": "data category",
}


def _check_names(c: _Collector) -> None:
    """Every name a flow or prohibition uses must be declared; every path must exist."""
    for path, located in c.catalogue.items():
        if not is_known(path):
            c.problems.append(
                located.source.problem(located.loc, f"unknown canonical field {path!r}")
            )
        if located.item not in c.tables["data_categories"]:
            c.problems.append(
                located.source.problem(located.loc, f"unknown data category {located.item!r}")
            )

    def need(
        located: Located,
        loc: tuple[int | str, ...],
        value: str,
        kind: str,
        allow_any: bool = False,
    ) -> None:
        if allow_any and value == ANY:
            return
        if value not in c.tables[kind]:
            known = ", ".join(sorted(c.tables[kind])) or "none declared"
            label = LABELS[kind]
            c.problems.append(
                located.source.problem(
                    located.loc + loc, f"unknown {label} {value!r}; expected one of: {known}"
                )
            )

    def need_path(located: Located, loc: tuple[int | str, ...], path: str) -> None:
        if not is_known(path):
            c.problems.append(
                located.source.problem(
                    located.loc + loc,
                    f"unknown canonical field {path!r}; expected a path of contracts.Exchange "
                    "such as payload.crime.offence or subjects[].name",
                )
            )

    flows = list(c.tables["flows"].values())
    net = c.agreements[0].item.safety_net if len(c.agreements) == 1 else None
    if net is not None:
        flows.append(_safety_net_located(c))
    for located in flows:
        flow: Flow = located.item
        for i, sender in enumerate(flow.senders):
            loc = ("from",) if isinstance(flow.sender, str) else ("from", i)
            need(located, loc, sender, "parties", allow_any=True)
        for i, recipient in enumerate(flow.recipients):
            need(located, ("to", i), recipient, "parties", allow_any=True)
        for i, purpose in enumerate(flow.purposes):
            need(located, ("purposes", i), purpose, "purposes")
        if flow.lawful_basis:
            need(located, ("lawful_basis",), flow.lawful_basis, "lawful_bases")
        if flow.special_category_condition:
            need(
                located,
                ("special_category_condition",),
                flow.special_category_condition,
                "lawful_bases",
            )
        for i, rule in enumerate(flow.field_rules()):
            need_path(located, ("fields", i), rule.path)
        for i, condition in enumerate(flow.when):
            need_path(located, ("when", i, "field"), condition.field)
        if flow.consent:
            need_path(located, ("consent", "field"), flow.consent.field)
            need_path(located, ("consent", "justification_field"), flow.consent.justification_field)
            for i, reason in enumerate(flow.consent.without_consent):
                need(located, ("consent", "without_consent", i), reason, "justifications")
        if flow.to_owners:
            need_path(located, ("to_owners", "items"), flow.to_owners.items)
    for located in c.tables["parties"].values():
        party: Party = located.item
        for category, purposes in party.registration.purposes.items():
            for i, purpose in enumerate(purposes):
                where: tuple[int | str, ...] = ("registration", "purposes", str(category), i)
                need(located, where, purpose, "purposes")
                declared = c.tables["purposes"].get(purpose)
                if declared is not None and declared.item.export_only:
                    c.problems.append(
                        located.source.problem(
                            located.loc + where,
                            f"purpose {purpose!r} is for the gateway's exports only: "
                            "no sender's records may default to it",
                        )
                    )
    for located in c.tables["prohibitions"].values():
        prohibition: Prohibition = located.item
        for i, path in enumerate(prohibition.fields):
            need_path(located, ("fields", i), path)
        for i, recipient in enumerate(prohibition.to):
            need(located, ("to", i), recipient, "parties", allow_any=True)


def _safety_net_located(c: _Collector) -> Located:
    """The agreement's safety net as the flow it acts as, located in the agreement."""
    agreement = c.agreements[0]
    return Located(
        agreement.item.safety_net.as_flow(), agreement.source, ("agreement", "safety_net")
    )


def _check_special_category(c: _Collector, bundle: PolicyBundle) -> None:
    """A flow that carries special-category data without an Art 9 condition does not load."""
    flows = list(c.tables["flows"].values())
    if bundle.safety_net is not None:
        flows.append(_safety_net_located(c))
    for located in flows:
        flow: Flow = located.item
        if flow.effect != "permit":
            continue
        special = [
            (i, r.path)
            for i, r in enumerate(flow.field_rules())
            if r.transform is not Transform.DROP and bundle.is_special(r.path)
        ]
        if not special:
            continue
        basis = bundle.lawful_bases.get(flow.special_category_condition or "")
        if basis is not None and basis.special_category:
            continue
        i, path = special[0]
        why = (
            f"{flow.special_category_condition!r} is not marked special_category"
            if basis is not None
            else "it names no special_category_condition"
        )
        c.problems.append(
            located.source.problem(
                (*located.loc, "fields", i),
                f"flow {flow.id!r} shares special-category data ({path}) but {why}; "
                "expected an Art 9 / DPA 2018 s35 condition",
            )
        )


def load_bundle(directory: Path | str) -> PolicyBundle:
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyLoadError(f"{directory}: not a policy directory")
    files = policy_files(directory)
    if not files:
        raise PolicyLoadError(f"{directory}: no policy files (*.yaml) found")
    collector = _Collector()
    load_problems: list[FieldProblem] = []
    for path in files:
        source = Source.read(path)
        try:
            collector.add(source, source.validate(PolicyDocument, "policy"))
        except PolicyLoadError as exc:
            load_problems.extend(exc.problems or [FieldProblem("(file)", exc.detail, path.name)])
    if load_problems:
        raise PolicyLoadError(
            f"{directory}: the policy files do not match the schema", load_problems
        )
    if len(collector.agreements) != 1:
        raise PolicyLoadError(
            f"{directory}: exactly one file must declare the agreement "
            f"(found {len(collector.agreements)})"
        )
    _check_names(collector)
    if collector.problems:
        raise PolicyLoadError(f"{directory}: the policy bundle does not load", collector.problems)

    agreement = collector.agreements[0].item
    parties: dict[str, Party] = collector.items("parties")
    flows: tuple[Flow, ...] = tuple(collector.items("flows").values())
    prohibitions: tuple[Prohibition, ...] = tuple(collector.items("prohibitions").values())
    bundle = PolicyBundle(
        directory=directory,
        version=bundle_hash(files),
        agreement_id=agreement.id,
        agreement_title=agreement.title,
        agreement_version=agreement.version,
        parties=parties,
        purposes=collector.items("purposes"),
        lawful_bases=collector.items("lawful_bases"),
        justifications=collector.items("justifications"),
        data_categories=collector.items("data_categories"),
        catalogue={p: located.item for p, located in collector.catalogue.items()},
        flows=flows,
        prohibitions=prohibitions,
        index=compile_flows(parties, flows, prohibitions, [str(c) for c in Category]),
        safety_net=compile_safety_net(parties, agreement.safety_net, prohibitions),
        retention=agreement.retention,
        locations={
            f"{kind}:{key}": located.where
            for kind, table in collector.tables.items()
            for key, located in table.items()
        },
        files=tuple(files),
    )
    _check_special_category(collector, bundle)
    if collector.problems:
        raise PolicyLoadError(f"{directory}: the policy bundle does not load", collector.problems)
    return bundle
