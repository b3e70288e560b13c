"""Loading a policy directory into a compiled, hashable bundle.

A bundle is every ``*.yaml`` file directly in the policy directory (policy
tests live under ``tests/`` and are not part of it). Loading checks every name
a flow uses (parties, purposes, lawful bases, field paths) and compiles flows
into a lookup table keyed by (sender, recipient, category), so deciding is a
dictionary lookup rather than a scan of the agreement.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from contracts import Exchange, field_paths
from gateway.errors import FieldProblem, PolicyLoadError
from gateway.policy.model import Flow, LawfulBasis, Party, PolicyDocument, Purpose


@dataclass(frozen=True)
class PolicyBundle:
    directory: Path
    version: str  # "sha256:<hex>" of the files' names and bytes
    agreement_id: str
    parties: dict[str, Party]
    purposes: dict[str, Purpose]
    lawful_bases: dict[str, LawfulBasis]
    flows: tuple[Flow, ...]
    index: dict[tuple[str, str, str], tuple[Flow, ...]] = field(repr=False)

    def candidates(self, sender: str) -> list[str]:
        """Every party the sender could in principle share with: all others."""
        return [p for p in self.parties if p != sender]


def _read(path: Path) -> PolicyDocument:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"{path}: not valid YAML: {exc}") from None
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        problems = [
            FieldProblem(
                field=".".join(str(p) for p in e["loc"]), message=e["msg"], record=path.name
            )
            for e in exc.errors(include_url=False)
        ]
        raise PolicyLoadError(f"{path}: does not match the policy schema", problems) from None


def bundle_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def load_bundle(directory: Path | str) -> PolicyBundle:
    directory = Path(directory)
    files = sorted(p for p in directory.glob("*.yaml") if p.is_file())
    if not files:
        raise PolicyLoadError(f"{directory}: no policy files (*.yaml) found")
    docs = [(path, _read(path)) for path in files]

    agreements = [d.agreement for _, d in docs if d.agreement]
    if len(agreements) != 1:
        raise PolicyLoadError(f"{directory}: exactly one file must declare the agreement")

    parties: dict[str, Party] = {}
    purposes: dict[str, Purpose] = {}
    bases: dict[str, LawfulBasis] = {}
    flows: list[Flow] = []
    problems: list[FieldProblem] = []
    for path, doc in docs:
        for kind, items, table in (
            ("party", doc.parties, parties),
            ("purpose", doc.purposes, purposes),
            ("lawful basis", doc.lawful_bases, bases),
        ):
            for item in items:
                if item.id in table:
                    problems.append(FieldProblem(kind, f"{item.id!r} declared twice", path.name))
                table[item.id] = item
        flows.extend(doc.flows)

    known_paths = field_paths(Exchange)
    for flow in flows:
        where = f"flow {flow.id}"
        for name, table, values in (
            ("from", parties, [flow.sender]),
            ("to", parties, flow.recipients),
            ("purposes", purposes, flow.purposes),
            ("lawful_basis", bases, [flow.lawful_basis]),
        ):
            for value in values:
                if value not in table:
                    problems.append(FieldProblem(name, f"unknown {name} {value!r}", where))
        for path in flow.fields:
            if path not in known_paths and path + "[]" not in known_paths:
                problems.append(FieldProblem("fields", f"unknown canonical field {path!r}", where))
    if problems:
        raise PolicyLoadError(f"{directory}: the policy bundle does not load", problems)

    index: dict[tuple[str, str, str], list[Flow]] = defaultdict(list)
    for flow in flows:
        for recipient in flow.recipients:
            for category in flow.categories:
                index[(flow.sender, recipient, category)].append(flow)

    return PolicyBundle(
        directory=directory,
        version=bundle_hash(files),
        agreement_id=agreements[0].id,
        parties=parties,
        purposes=purposes,
        lawful_bases=bases,
        flows=tuple(flows),
        index={k: tuple(v) for k, v in index.items()},
    )
