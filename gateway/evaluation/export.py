"""``gateway evaluation export``: one cohort's evidence for its evaluator, governed
like every other flow.

1. The cohort (``evaluation/cohorts.yaml``) names the agreement's flow, its
   evaluator and the purpose; the custodian's linking index is brought up to date.
2. Who enters: the subjects of the cohort's referrals, each resolved to one
   person by the linking index.
3. Every record about those people is *decided* under the cohort's purpose for
   the evaluator, as the pipeline decides (a child named, a sender outside the
   flow: refused and counted), and *minimised* to the flow's fields.
4. The facts become tables keyed by a pseudonym per person and recipient;
   dates to the month; the aggregate measures are suppressed for small numbers.
5. The files are written (Parquet and CSV), with a data dictionary and a
   manifest, and the export is *audited* as one disclosure to the evaluator.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import sqlalchemy as sa

from contracts import Exchange
from gateway.audit import Action, AuditEntry
from gateway.evaluation.cohorts import Cohort, load_cohorts
from gateway.evaluation.dictionary import Table, tables
from gateway.evaluation.facts import Facts, add_facts
from gateway.evaluation.measures import (
    ALL,
    DAYS_PER_MONTH,
    Outcome,
    aggregate,
    count_columns,
    outcome,
)
from gateway.evaluation.months import add_months, month_of
from gateway.evaluation.suppression import DERIVED, Suppressed, suppress
from gateway.linking.index import (
    catch_up,
    chunks,
    envelope_text,
    parse_envelope,
    person_rows,
    persons_of,
)
from gateway.linking.keys import sightings
from gateway.policy import PolicyBundle, minimise_for
from gateway.policy.engine import Decision, decide_for
from gateway.policy.transforms import as_date
from gateway.store import Store
from gateway.store.audit_log import append
from gateway.store.tables import exchanges

JUSTIFICATION = (
    "the agreement's flow {flow} permits this export to {recipient} for {purpose}: "
    "linked, pseudonymised, dates to the month, small numbers suppressed"
)


class EvaluationError(ValueError):
    """An export that cannot be made as asked (no such cohort, a directory in use)."""


@dataclass
class Exported:
    """What an export wrote and decided: the manifest's figures."""

    cohort: str
    out: Path
    people: int = 0
    records_permitted: int = 0
    records_refused: Counter[str] = field(default_factory=Counter)
    entry_referrals_refused: int = 0
    unlinkable_subjects: int = 0
    suppressed: list[Suppressed] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # name -> SHA-256
    disclosed: set[str] = field(default_factory=set)
    audit_entry: str = ""


def pseudonym(key: bytes, recipient: str, person: str) -> str:
    """The person's pseudonym for one recipient: two recipients cannot join theirs."""
    digest = hmac.new(key, f"evaluation\x1f{recipient}\x1f{person}".encode(), hashlib.sha256)
    return "ev-" + digest.hexdigest()[:20]


def export_cohort(
    store: Store,
    bundle: PolicyBundle,
    cohort_id: str,
    key: bytes,
    out: Path,
    by: str,
    *,
    as_of: date | None = None,
    threshold: int | None = None,
) -> Exported:
    cohorts = load_cohorts(bundle)
    cohort = cohorts.get(cohort_id)
    if cohort is None:
        known = ", ".join(sorted(cohorts)) or "none"
        raise EvaluationError(f"no cohort {cohort_id!r} in the agreement (cohorts: {known})")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EvaluationError(f"{out} is not an empty directory: each export gets its own")
    as_of = as_of or datetime.now(UTC).date()
    limit = threshold if threshold is not None else cohort.suppress_under
    if limit < 1:
        raise EvaluationError("the suppression threshold is at least 1")
    result = Exported(cohort.id, out)
    catch_up(store, key, actor=by)
    reader = _Reader(store, bundle, cohort, key, as_of, result)
    entered = reader.entries()
    facts = reader.facts(entered)
    outcomes = {
        p: outcome(facts[p], entered[p], as_of, cohort.follow_up_months) for p in sorted(entered)
    }
    result.people = len(outcomes)
    rows = _rows(cohort, as_of, key, facts, outcomes, limit, result)
    out.mkdir(parents=True, exist_ok=True)
    for table in tables(cohort.follow_up_months):
        _write(out, table, rows[table.name], result)
    _write_dictionary(out, tables(cohort.follow_up_months), result)
    entry = _audit(store, bundle, cohort, by, as_of, limit, result)
    result.audit_entry = entry.entry_id
    _write_manifest(out, bundle, cohort, as_of, limit, result)
    return result


class _Reader:
    """Reads the store for one export: who enters, then each record about them,
    decided and minimised for the cohort's evaluator."""

    def __init__(
        self,
        store: Store,
        bundle: PolicyBundle,
        cohort: Cohort,
        key: bytes,
        as_of: date,
        result: Exported,
    ) -> None:
        self.store, self.bundle, self.cohort, self.key = store, bundle, cohort, key
        self.as_of, self.result = as_of, result
        #: A record decided once (an entry referral is read again for its facts).
        self.decided: dict[str, Decision] = {}

    def decide(self, envelope: dict[str, Any]) -> Decision:
        known = self.decided.get(envelope["exchange_id"])
        if known is not None:
            return known
        exchange = Exchange.model_validate(envelope)
        exchange.declare_purposes([self.cohort.purpose])
        restricted = any(s.access is not None for s in exchange.subjects)
        decision = decide_for(self.bundle, exchange, self.cohort.recipient, self.as_of, restricted)
        self.decided[envelope["exchange_id"]] = decision
        return decision

    def entries(self) -> dict[str, date]:
        """person -> the date they entered the cohort (their first referral in it)."""
        entry = self.cohort.entry
        roles = {str(r) for r in entry.roles}
        wanted: list[tuple[date, dict[str, Any], list[str]]] = []
        with self.store.engine.connect() as conn:
            query = sa.select(envelope_text()).where(exchanges.c.category == "referral")
            for (envelope,) in conn.execute(query):
                record = parse_envelope(envelope)
                referral = (record.get("payload") or {}).get("referral") or {}
                on = as_date(referral.get("referred_at"))
                if (
                    on is None
                    or not entry.referred_from <= on <= entry.referred_until
                    or referral.get("referred_to") not in entry.referred_to
                    or (
                        entry.interventions
                        and referral.get("intervention") not in entry.interventions
                    )
                ):
                    continue
                refs = [s["ref"] for s in record["subjects"] if s.get("role") in roles]
                if refs:
                    wanted.append((on, record, refs))
            subjects: list[tuple[date, list[str]]] = []
            for on, record, refs in wanted:
                if not self.decide(record).permitted:
                    self.result.entry_referrals_refused += 1
                    continue
                seen = {s.subject_ref: s for s in sightings(record, self.key)}
                for ref in refs:
                    if ref not in seen:
                        self.result.unlinkable_subjects += 1
                        continue
                    subjects.append((on, [k.digest for k in seen[ref].keys]))
            whose = persons_of(conn, [d for _, digests in subjects for d in digests])
            entered: dict[str, date] = {}
            for on, digests in subjects:
                persons = {whose[d] for d in digests if d in whose}
                if len(persons) != 1:  # the custodian unlinked it: whose it is, is unknown
                    self.result.unlinkable_subjects += 1
                    continue
                person = persons.pop()
                entered[person] = min(on, entered.get(person, on))
        return entered

    def facts(self, entered: dict[str, date]) -> dict[str, Facts]:
        facts = {p: Facts() for p in entered}
        with self.store.engine.connect() as conn:
            about: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for person, pairs in person_rows(conn, entered).items():
                for exchange_id, ref in pairs:
                    about[exchange_id].append((person, ref))
            for part in chunks(sorted(about)):
                query = sa.select(exchanges.c.exchange_id, envelope_text()).where(
                    exchanges.c.exchange_id.in_(part),
                    exchanges.c.erased_at.is_(None),  # past the agreement's retention
                )
                for exchange_id, envelope in conn.execute(query):
                    self._read(parse_envelope(envelope), about[exchange_id], facts)
        return facts

    def _read(
        self, envelope: dict[str, Any], about: list[tuple[str, str]], facts: dict[str, Facts]
    ) -> None:
        decision = self.decide(envelope)
        if not decision.permitted:
            self.result.records_refused[decision.rules[0]] += 1
            return
        self.result.records_permitted += 1
        minimised = minimise_for(decision, envelope)
        self.result.disclosed.update(minimised.disclosed)
        sender = envelope["source_partner"]
        party = self.bundle.parties.get(sender)
        agency = party.kind if party else sender
        for person, ref in about:
            add_facts(facts[person], minimised.record, ref, sender, agency)


def _rows(
    cohort: Cohort,
    as_of: date,
    key: bytes,
    facts: dict[str, Facts],
    outcomes: dict[str, Outcome],
    threshold: int,
    result: Exported,
) -> dict[str, list[dict[str, Any]]]:
    months = cohort.follow_up_months
    windows = sorted({6, 12, months})
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for person, done in outcomes.items():
        f = facts[person]
        who = pseudonym(key, cohort.recipient, person)
        rows["people"].append(
            {
                "person": who,
                "age_band": f.age_band,
                "agencies": ";".join(sorted(f.agencies)),
                "entered_month": month_of(done.entered_on),
                "intervention": done.intervention.intervention if done.intervention else None,
                "group": done.group,
                "index_month": month_of(done.index_date),
                **{f"followed_{m}m": done.followed[m] for m in windows},
                **{f"reoffended_{m}m": done.reoffended[m] for m in windows},
                "months_to_first_reoffence": done.months_to_first,
                f"charges_{months}m": done.charges,
                f"cautions_{months}m": done.cautions,
            }
        )
        for r in sorted(f.referrals, key=lambda r: r.on):
            rows["referrals"].append(
                {
                    "person": who,
                    "referral_month": month_of(r.on),
                    "referred_to": r.referred_to,
                    "referring_agency": r.referring_agency,
                    "outcome": r.outcome,
                    "intervention": r.intervention,
                    "high_risk": r.high_risk,
                }
            )
        for i in sorted(f.interventions, key=lambda i: i.on):
            rows["interventions"].append(
                {
                    "person": who,
                    "record_month": month_of(i.on),
                    "provider": i.provider,
                    "intervention": i.intervention,
                    "engagement": i.engagement,
                    "sessions_offered": i.sessions_offered,
                    "sessions_attended": i.sessions_attended,
                    "completed": i.completed,
                    "completion_month": month_of(i.completed_on),
                }
            )
        for k in sorted(f.risks, key=lambda k: (k.on, k.tool)):
            rows["risk"].append(
                {
                    "person": who,
                    "assessed_month": month_of(k.on),
                    "tool": k.tool,
                    "level": k.level,
                    "agency": k.agency,
                }
            )
        rows["reviews"] += _reviews(who, f, done.index_date, as_of)
        for e in sorted(f.police, key=lambda e: (e.on, e.event)):
            rows["police_records"].append(
                {
                    "person": who,
                    "record_month": month_of(e.on),
                    "months_from_index": int((e.on - done.index_date).days // DAYS_PER_MONTH),
                    "event": e.event,
                    "offence_class": e.offence_class,
                    "detail": e.detail,
                }
            )
    measures, hidden = _measures(list(outcomes.values()), months, threshold)
    rows["measures"] = measures
    result.suppressed = hidden
    rows["suppression"] = [
        {"table": "measures", "group": s.group, "column": s.column, "reason": s.reason}
        for s in hidden
    ]
    return rows


def _reviews(who: str, f: Facts, index: date, as_of: date) -> Iterator[dict[str, Any]]:
    """The quarterly reviews of the 12 months after the index date."""
    as_known = sorted(f.risks, key=lambda k: k.on)
    for quarter in range(1, 5):
        start, end = add_months(index, 3 * (quarter - 1)), add_months(index, 3 * quarter)
        events = Counter(e.event for e in f.police if start < e.on <= end)
        latest = {k.tool: k.level for k in as_known if k.on <= end}
        yield {
            "person": who,
            "quarter": quarter,
            "review_month": month_of(end),
            "followed": end <= as_of,
            "new_offences": events["offence"] + events["breach"],
            "breaches": events["breach"],
            "arrests": events["arrest"],
            "sash_level": latest.get("SASH"),
            "dash_level": latest.get("DASH"),
            "rosh_level": latest.get("RoSH"),
        }


def _measures(
    outcomes: list[Outcome], months: int, threshold: int
) -> tuple[list[dict[str, Any]], list[Suppressed]]:
    rows = aggregate(outcomes, months)
    columns = count_columns(months)
    counts = {r.group: r.counts for r in rows}
    hidden = suppress(counts, columns, ALL, threshold)
    cells = {(s.group, s.column) for s in hidden}
    derived: list[Suppressed] = []
    out = []
    for r in rows:
        row: dict[str, Any] = {"group": r.group}
        for column, _ in columns:
            row[column] = None if (r.group, column) in cells else r.counts[column]
        for m in sorted({6, 12, months}):
            num, den = f"reoffended_{m}m", f"followed_{m}m"
            if (r.group, num) in cells or (r.group, den) in cells:
                row[f"rate_{m}m"] = None
                derived.append(Suppressed(r.group, f"rate_{m}m", DERIVED.format(of=num)))
            else:
                row[f"rate_{m}m"] = (
                    round(r.counts[num] / r.counts[den], 4) if r.counts[den] else None
                )
        if (r.group, "reoffenders") in cells:
            row["median_months_to_first_reoffence"] = None
            derived.append(
                Suppressed(
                    r.group, "median_months_to_first_reoffence", DERIVED.format(of="reoffenders")
                )
            )
        else:
            row["median_months_to_first_reoffence"] = r.median_months_to_first
        out.append(row)
    return out, hidden + derived


def _write(out: Path, table: Table, rows: list[dict[str, Any]], result: Exported) -> None:
    data = pa.Table.from_pylist(rows, schema=table.schema)
    pq.write_table(data, out / f"{table.name}.parquet")
    pa_csv.write_csv(data, out / f"{table.name}.csv")
    for suffix in ("parquet", "csv"):
        name = f"{table.name}.{suffix}"
        result.files[name] = hashlib.sha256((out / name).read_bytes()).hexdigest()


def _write_dictionary(out: Path, all_tables: tuple[Table, ...], result: Exported) -> None:
    with (out / "data_dictionary.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["table", "column", "type", "description", "values"])
        for t in all_tables:
            for c in t.columns:
                writer.writerow([t.name, c.name, str(c.type), c.description, c.values])
    lines = ["# Data dictionary", ""]
    for t in all_tables:
        lines += [f"## {t.name}", "", t.description + ".", ""]
        lines += ["| column | type | description | values |", "| --- | --- | --- | --- |"]
        lines += [f"| {c.name} | {c.type} | {c.description} | {c.values} |" for c in t.columns]
        lines.append("")
    (out / "data_dictionary.md").write_text("\n".join(lines), encoding="utf-8")
    for name in ("data_dictionary.csv", "data_dictionary.md"):
        result.files[name] = hashlib.sha256((out / name).read_bytes()).hexdigest()


def _audit(
    store: Store,
    bundle: PolicyBundle,
    cohort: Cohort,
    by: str,
    as_of: date,
    threshold: int,
    result: Exported,
) -> AuditEntry:
    flow = next(f for f in bundle.flows if f.id == cohort.flow)
    entry = AuditEntry(
        action=Action.DISCLOSURE,
        actor=by,
        recipient=cohort.recipient,
        details={
            "operation": "evaluation-export",
            "cohort": cohort.id,
            "rules": [flow.id],
            "purpose": cohort.purpose,
            "lawful_basis": flow.lawful_basis,
            "special_category_condition": flow.special_category_condition,
            "policy_version": bundle.version,
            "agreement_version": bundle.agreement_version,
            "justification": JUSTIFICATION.format(
                flow=flow.id, recipient=cohort.recipient, purpose=cohort.purpose
            ),
            "as_of": as_of.isoformat(),
            "people": result.people,
            "records_permitted": result.records_permitted,
            "records_refused": dict(sorted(result.records_refused.items())),
            "entry_referrals_refused": result.entry_referrals_refused,
            "unlinkable_subjects": result.unlinkable_subjects,
            "disclosed": sorted(result.disclosed),
            "suppress_under": threshold,
            "suppressed_cells": len(result.suppressed),
            "files": dict(sorted(result.files.items())),
        },
    )
    with store.transaction() as conn:
        append(conn, [entry])
    return entry


def _write_manifest(
    out: Path, bundle: PolicyBundle, cohort: Cohort, as_of: date, threshold: int, result: Exported
) -> None:
    manifest = {
        "cohort": cohort.id,
        "description": cohort.description,
        "agreement": bundle.agreement_id,
        "agreement_version": bundle.agreement_version,
        "flow": cohort.flow,
        "recipient": cohort.recipient,
        "purpose": cohort.purpose,
        "as_of": as_of.isoformat(),
        "follow_up_months": cohort.follow_up_months,
        "suppress_under": threshold,
        "people": result.people,
        "records_permitted": result.records_permitted,
        "records_refused": dict(sorted(result.records_refused.items())),
        "unlinkable_subjects": result.unlinkable_subjects,
        "suppressed_cells": len(result.suppressed),
        "audit_entry": result.audit_entry,
        "files": dict(sorted(result.files.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
