"""``gateway routes ...``: lint, test and explain an agreement's routing rules.

Each command takes the policy directory (the agreement); its routes are in
``DIR/routes/`` and their tests in ``DIR/routes/tests/``. A folder of
agreement directories (``policies/``) is taken as all of them for lint and
test. Errors are plain words on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.policy import DEFAULT_ROOT, agreements, bundle_or_fail, fail, read_exchange
from gateway.errors import GatewayError
from gateway.routing import load_routes
from gateway.routing.explain import render
from gateway.routing.lint import lint as lint_routes
from gateway.routing.plan import period
from gateway.routing.suite import run_suites

routes_app = typer.Typer(
    name="routes",
    help="Lint, test and explain who at each party receives a copy, and who next.",
    no_args_is_help=True,
    add_completion=False,
)

PolicyDir = Annotated[
    Path, typer.Argument(help="Policy directory (routes in DIR/routes/), or a folder of them.")
]


@routes_app.command()
def lint(directory: PolicyDir = DEFAULT_ROOT) -> None:
    """Check the routes: names, times, unreachable routes, chains, urgent fallbacks."""
    failed = False
    for path in agreements(directory):
        routes, findings = lint_routes(path / "routes", bundle_or_fail(path))
        errors = [f for f in findings if f.severity == "error"]
        status = "ok" if routes is not None and not errors else f"{len(errors)} error(s)"
        typer.echo(f"{path / 'routes'}: {status}, {len(findings) - len(errors)} warning(s)")
        for finding in findings:
            typer.echo(f"  {finding}")
        failed = failed or bool(errors)
    if failed:
        raise typer.Exit(1)


@routes_app.command()
def test(directory: PolicyDir = DEFAULT_ROOT) -> None:
    """Run the routing tests (a pinned clock, a record, a party: the desks expected)."""
    failed = False
    for path in agreements(directory):
        try:
            routes = load_routes(path / "routes", bundle_or_fail(path))
        except GatewayError as exc:
            fail(str(exc))
        report = run_suites(routes, path / "routes" / "tests")
        typer.echo(f"{path / 'routes'}: {report.render()}")
        failed = failed or not report.passed
    if failed:
        raise typer.Exit(1)


@routes_app.command()
def explain(
    directory: Annotated[Path, typer.Argument(help="Policy directory (routes in DIR/routes/).")],
    record: Annotated[Path, typer.Argument(help="A canonical exchange (JSON or YAML).")],
    party: Annotated[str, typer.Option("--party", help="The party the policy permitted.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="ISO date-time with offset (default now), e.g. 2026-12-25T10:00Z."
        ),
    ] = None,
    acknowledge_within: Annotated[
        str | None,
        typer.Option("--acknowledge-within", help="The flow's obligation, e.g. '15 minutes'."),
    ] = None,
) -> None:
    """Which route a record takes to a party at a moment, and the escalation chain."""
    bundle = bundle_or_fail(directory)
    if party not in bundle.parties:
        fail(f"unknown party {party!r}; parties: {', '.join(bundle.parties)}")
    moment = _moment(at)
    try:
        deadline = period(acknowledge_within) if acknowledge_within else None
    except ValueError as exc:
        fail(f"--acknowledge-within: {exc}")
    try:
        routes = load_routes(directory / "routes", bundle)
    except GatewayError as exc:
        fail(str(exc))
    exchange = read_exchange(record, None, None)
    typer.echo(render(routes, routes.plan(party, exchange, moment, deadline), moment))


def _moment(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at {text!r} is not an ISO date-time (e.g. 2026-12-25T10:00:00+00:00)")
    if moment.tzinfo is None:
        fail(f"--at {text!r} needs an offset (Z or +01:00): a local time is ambiguous")
    return moment
