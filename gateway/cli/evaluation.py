"""``gateway evaluation``: an agreement's cohorts, and one cohort's export for its
evaluator (``gateway.evaluation``; docs/evaluation.md)."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import DataDir, fail, open_store, settings_for
from gateway.errors import PolicyLoadError
from gateway.evaluation import EvaluationError, export_cohort, load_cohorts
from gateway.linking import LinkingKeyMissing, require_key
from gateway.policy import PolicyBundle, load_bundle

evaluation_app = typer.Typer(
    no_args_is_help=True, help="Evaluation cohorts and their linked, pseudonymised exports."
)

PolicyDir = Annotated[
    Path | None,
    typer.Option("--policy-dir", help="The agreement (default: the gateway's policy_dir)."),
]


def _bundle(policy_dir: Path | None, data_dir: Path | None) -> PolicyBundle:
    try:
        return load_bundle(policy_dir or settings_for(data_dir).policy_dir)
    except PolicyLoadError as problem:
        raise fail(_problem_text(problem)) from None


def _problem_text(problem: PolicyLoadError) -> str:
    lines = [problem.detail] + [f"  {p.record}: {p.field}: {p.message}" for p in problem.problems]
    return "\n".join(lines)


@evaluation_app.command("cohorts")
def cohorts_command(policy_dir: PolicyDir = None, data_dir: DataDir = None) -> None:
    """The agreement's cohorts: who enters, the flow and the evaluator."""
    bundle = _bundle(policy_dir, data_dir)
    try:
        cohorts = load_cohorts(bundle)
    except PolicyLoadError as problem:
        raise fail(_problem_text(problem)) from None
    for c in cohorts.values():
        e = c.entry
        typer.echo(
            f"{c.id}: referrals to {', '.join(e.referred_to)} from {e.referred_from} to "
            f"{e.referred_until}, followed {c.follow_up_months} months; flow {c.flow} to "
            f"{c.recipient} for {c.purpose}\n  {c.description}"
        )


@evaluation_app.command("export")
def export_command(
    cohort: Annotated[str, typer.Option("--cohort", help="The cohort's id.")],
    out: Annotated[Path, typer.Option("--out", help="An empty (or new) directory.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Follow-up counted to this day (YYYY-MM-DD; default today)."),
    ] = None,
    suppress_under: Annotated[
        int | None,
        typer.Option("--suppress-under", min=1, help="Threshold (default: the cohort's, 5)."),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who exports (audited). Default: custodian:<login>.")
    ] = None,
    policy_dir: PolicyDir = None,
    data_dir: DataDir = None,
) -> None:
    """Export one cohort for its evaluator: decided, minimised, suppressed and audited."""
    settings = settings_for(data_dir)
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise fail(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    try:
        key = require_key(settings)
    except LinkingKeyMissing as missing:
        raise fail(str(missing)) from None
    bundle = _bundle(policy_dir, data_dir)
    store = open_store(data_dir)
    try:
        done = export_cohort(
            store,
            bundle,
            cohort,
            key,
            out,
            by or f"custodian:{getpass.getuser()}",
            as_of=day,
            threshold=suppress_under,
        )
    except EvaluationError as problem:
        raise fail(str(problem)) from None
    except PolicyLoadError as problem:
        raise fail(_problem_text(problem)) from None
    refused = sum(done.records_refused.values())
    typer.echo(
        f"exported cohort {done.cohort} to {done.out}: {done.people} people, "
        f"{done.records_permitted} record(s) permitted, {refused} refused, "
        f"{len(done.suppressed)} cell(s) suppressed; audit entry {done.audit_entry}"
    )
