"""A policy test skeleton from a partner's example record.

The record goes through the adapter registry and the agreement's checks as a
submission would; the skeleton's fixture is the canonical exchange that comes
out, and it has one case per candidate recipient with the decision the bundle
makes today filled in (effect, rules and, for a permit, exactly what crosses).
Each expectation is marked ``# TODO confirm``: it passes as written, and is a
test only once the governance lead has read it against the agreement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from adapters import IngestContext
from adapters.registry import load_registry
from contracts import Exchange
from gateway.errors import InvalidRecord, UnknownPartner
from gateway.pipeline.ingest import ingest
from gateway.pipeline.validate import validate
from gateway.policy.bundle import PolicyBundle
from gateway.policy.engine import Decision, decide
from gateway.policy.fields import is_envelope
from gateway.policy.minimise import minimise_for
from gateway.policy.tools.suite import TEST_PSEUDONYM_KEY

TODO = "# TODO confirm"
SCHEMA_HEADER = "# yaml-language-server: $schema=../../schema/policy-test.schema.json"
#: Set by the gateway on receipt; a fixture gets fixed ones (see suite.build_fixture).
_RECEIPT_FIELDS = ("exchange_id", "submitted_at")
_MEDIA_BY_SUFFIX = {".json": "json", ".xml": "xml", ".csv": "csv"}


def example_exchanges(
    bundle: PolicyBundle, fmt: str, sender: str, body: bytes, filename: str = ""
) -> list[Exchange]:
    """The canonical exchanges a submission of ``body`` would become (bad rows left out)."""
    if sender not in bundle.parties:
        raise UnknownPartner(f"{sender!r} is not a party to {bundle.agreement_id}")
    registry = load_registry()
    adapter = registry.get(fmt)
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    wanted = _MEDIA_BY_SUFFIX.get(suffix, "")
    media_type = next((m for m in adapter.media_types if m.endswith(wanted)), None)
    parsed = ingest(
        registry,
        fmt,
        body,
        media_type or adapter.media_types[0],
        IngestContext(source_partner=sender, received_at=datetime.now(UTC)),
    )
    exchanges = [item for item in parsed.items if isinstance(item, Exchange)]
    for exchange in exchanges:
        validate(exchange, bundle)
    if not exchanges:
        raise InvalidRecord("the example holds no valid record")
    return exchanges


class _Dumper(yaml.SafeDumper):
    """Indents a list under its key, as the hand-written suites do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _fixture(exchange: Exchange) -> dict[str, Any]:
    data = exchange.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    for name in _RECEIPT_FIELDS:
        data.pop(name, None)
    return data


def _scalar(value: str) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _expectation(decision: Decision, record: dict[str, Any]) -> list[str]:
    """The ``expect`` entry for one recipient, as YAML lines under its key."""
    lines = [f"effect: {decision.effect}  {TODO}"]
    lines.append(f"rules: [{', '.join(_scalar(r) for r in decision.rules)}]")
    if not decision.permitted:
        return lines
    if decision.lawful_basis:
        lines.append(f"lawful_basis: {_scalar(decision.lawful_basis)}")
    if decision.obligations:
        lines.append(f"obligations: [{', '.join(_scalar(o) for o in decision.obligations)}]")
    minimised = minimise_for(decision, record, TEST_PSEUDONYM_KEY)
    disclosed = sorted(p for p in minimised.disclosed if not is_envelope(p))
    if disclosed:
        lines.append(f"disclosed:  {TODO}: exactly these fields cross, and no other")
        lines += [f"  - {_scalar(p)}" for p in disclosed]
    else:
        lines.append(f"disclosed: []  {TODO}: nothing but the envelope crosses")
    if minimised.transformed:
        lines.append("transformed:")
        lines += [f"  {_scalar(p)}: {_scalar(t)}" for p, t in sorted(minimised.transformed)]
    return lines


def skeleton(bundle: PolicyBundle, fmt: str, sender: str, body: bytes, filename: str) -> str:
    """The skeleton suite for an example record, as YAML text with ``# TODO`` marks."""
    exchanges = example_exchanges(bundle, fmt, sender, body, filename)
    stem = filename.rsplit(".", 1)[0] or "example"
    lines = [
        SCHEMA_HEADER,
        f"# Written by `gateway policy new-test {filename} --format {fmt} --sender {sender}`",
        f"# against {bundle.agreement_id}, bundle {bundle.version}.",
        "# Every expectation is what the agreement decides today:",
        "# confirm each (or correct it) and remove its TODO.",
        f"name: {_scalar(f'{stem} ({fmt} from {sender})')}",
        "description: TODO say what these cases show",
        "fixtures:",
    ]
    names = [stem if len(exchanges) == 1 else f"{stem}-{i}" for i in range(1, len(exchanges) + 1)]
    for name, exchange in zip(names, exchanges, strict=True):
        dumped = yaml.dump(
            {name: {"exchange": _fixture(exchange)}},
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=False,
            Dumper=_Dumper,
        )
        lines += ["  " + line for line in dumped.splitlines()]
    lines.append("")
    lines.append("tests:")
    for name, exchange in zip(names, exchanges, strict=True):
        record = exchange.model_dump(mode="json")
        for decision in decide(bundle, exchange):
            verb = "receives" if decision.permitted else "does not receive"
            lines.append(f"  - name: {_scalar(f'{decision.recipient} {verb} {name}')}  {TODO}")
            lines.append(f"    exchange: {_scalar(name)}")
            lines.append("    expect:")
            lines.append(f"      {_scalar(decision.recipient)}:")
            lines += [f"        {line}" for line in _expectation(decision, record)]
    return "\n".join(lines) + "\n"
