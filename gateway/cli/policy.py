"""``gateway policy ...``: the governance lead's tools (``gateway.policy.tools``).

Every command takes the policy directory as an argument, so a proposed change
can be checked in a copy before it goes live. A directory that holds no
``*.yaml`` itself but has agreement subdirectories (``policies/``) is taken as
all of them, for lint, test and matrix. Errors go to stderr as plain words
with a non-zero exit, without the other commands' ``error:`` prefix (a lint
finding is not the tool failing); never a traceback.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
import yaml
from pydantic import ValidationError

from contracts import Exchange
from gateway.errors import GatewayError
from gateway.policy import load_bundle
from gateway.policy.bundle import PolicyBundle, policy_files
from gateway.policy.tools.diff import diff as diff_bundles
from gateway.policy.tools.explain import explain as explain_exchange
from gateway.policy.tools.lint import ERROR
from gateway.policy.tools.lint import lint as lint_directory
from gateway.policy.tools.matrix import markdown, to_html
from gateway.policy.tools.replay import replay as replay_exchanges
from gateway.policy.tools.suite import run_suites

if TYPE_CHECKING:
    from gateway.store import Store

policy_app = typer.Typer(
    name="policy",
    help="Lint, test, explain, diff, tabulate and replay the information-sharing agreement.",
    no_args_is_help=True,
    add_completion=False,
)

DEFAULT_ROOT = Path("policies")
DEFAULT_BUNDLE = Path("policies/cheshire-hru")

PolicyDir = Annotated[
    Path, typer.Argument(help="Policy directory, or a folder of agreement directories.")
]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def agreements(directory: Path) -> list[Path]:
    """The agreement directories under ``directory`` (itself, if it holds policy files)."""
    if not directory.is_dir():
        fail(f"{directory}: no such policy directory")
    if policy_files(directory):
        return [directory]
    found = sorted(d for d in directory.iterdir() if d.is_dir() and policy_files(d))
    if not found:
        fail(f"{directory}: no policy files (*.yaml) here or in its subdirectories")
    return found


def bundle_or_fail(directory: Path) -> PolicyBundle:
    try:
        return load_bundle(directory)
    except GatewayError as exc:
        fail(str(exc))


@policy_app.command()
def lint(
    directory: PolicyDir = DEFAULT_ROOT,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="The bundle this one replaces: warn if the files changed but the "
            "agreement's version did not.",
        ),
    ] = None,
) -> None:
    """Check schema and meaning; print every finding; exit 1 on any error."""
    failed = False
    previous = bundle_or_fail(against) if against is not None else None
    for path in agreements(directory):
        result = lint_directory(path, previous=previous)
        errors = [f for f in result.findings if f.severity == ERROR]
        status = "ok" if result.ok else f"{len(errors)} error(s)"
        typer.echo(f"{path}: {status}, {len(result.findings) - len(errors)} warning(s)")
        for finding in result.findings:
            typer.echo(f"  {finding}")
        failed = failed or not result.ok
    if failed:
        raise typer.Exit(1)


@policy_app.command()
def test(
    directory: PolicyDir = DEFAULT_ROOT,
    tests_dir: Annotated[
        Path | None, typer.Option("--tests", help="Policy tests (default DIR/tests).")
    ] = None,
) -> None:
    """Run the policy tests (given an exchange, the expected decision per recipient)."""
    failed = False
    for path in agreements(directory):
        bundle = bundle_or_fail(path)
        report = run_suites(bundle, tests_dir)
        typer.echo(f"{path}: {report.render()}")
        failed = failed or not report.passed
    if failed:
        raise typer.Exit(1)


def read_exchange(path: Path, adapter: str | None, sender: str | None) -> Exchange:
    try:
        body = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot be read: {exc.strerror}")
    if adapter:
        return _parse_native(body, adapter, sender)
    try:
        data = yaml.safe_load(body) if path.suffix in {".yaml", ".yml"} else json.loads(body)
        return Exchange.model_validate(data)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        fail(f"{path}: not valid JSON or YAML: {exc}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
        )
        fail(
            f"{path}: not a canonical exchange ({problems}); for a partner's native "
            "format pass --format NAME --sender PARTY"
        )


def _parse_native(body: bytes, name: str, sender: str | None) -> Exchange:
    from datetime import UTC

    from adapters.base import IngestContext
    from adapters.registry import load_registry

    if not sender:
        fail("--format needs --sender: the party that submits the record")
    try:
        adapter = load_registry().get(name)
        parsed = adapter.parse(
            body, adapter.media_types[0], IngestContext(sender, datetime.now(UTC))
        )
    except GatewayError as exc:
        fail(str(exc))
    exchanges = [item for item in parsed.items if isinstance(item, Exchange)]
    if not exchanges:
        fail("the record holds no valid exchange")
    return exchanges[0]


@policy_app.command()
def explain(
    exchange_file: Annotated[Path, typer.Argument(help="A canonical exchange (JSON or YAML).")],
    policy: Annotated[Path, typer.Option("--policy", help="Policy directory.")] = DEFAULT_BUNDLE,
    recipient: Annotated[
        list[str] | None, typer.Option("--recipient", help="Only these recipients.")
    ] = None,
    adapter: Annotated[
        str | None, typer.Option("--format", help="Read a partner's native format instead.")
    ] = None,
    sender: Annotated[str | None, typer.Option("--sender", help="Submitting party.")] = None,
) -> None:
    """Which rules matched for each recipient and why, field by field."""
    bundle = bundle_or_fail(policy)
    exchange = read_exchange(exchange_file, adapter, sender)
    unknown = [r for r in recipient or [] if r not in bundle.parties]
    if unknown:
        fail(f"unknown recipient(s): {', '.join(unknown)}; parties: {', '.join(bundle.parties)}")
    typer.echo(explain_exchange(bundle, exchange, recipient or None))


@policy_app.command()
def diff(
    old_dir: Annotated[Path, typer.Argument(help="The agreement in force.")],
    new_dir: Annotated[Path, typer.Argument(help="The proposed agreement.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
) -> None:
    """What a change newly discloses, stops disclosing or discloses in another form,
    recipient by recipient and field by field, in words for the board."""
    old, new = bundle_or_fail(old_dir), bundle_or_fail(new_dir)
    changes = diff_bundles(old, new)
    if as_json:
        typer.echo(json.dumps(changes.as_json(old, new), indent=2))
    else:
        typer.echo(changes.render(old, new))


@policy_app.command()
def matrix(
    directory: PolicyDir = DEFAULT_BUNDLE,
    output_format: Annotated[str, typer.Option("--format", help="markdown or html.")] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (format from .html/.md).")
    ] = None,
) -> None:
    """Who may share what with whom, for which purpose, on which basis (ISA appendix)."""
    if output is not None and output.suffix in {".html", ".htm"}:
        output_format = "html"
    if output_format not in {"markdown", "html"}:
        fail(f"--format must be markdown or html, not {output_format!r}")
    render = to_html if output_format == "html" else markdown
    text = "\n".join(render(bundle_or_fail(path)) for path in agreements(directory))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


@policy_app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Directory (default policies/schema).")
    ] = None,
) -> None:
    """Regenerate the draft-07 JSON Schemas editors use, from the policy models."""
    from gateway.policy.tools import schema as schemas

    for path in schemas.write(output or schemas.SCHEMA_DIR):
        typer.echo(f"wrote {path}")


@policy_app.command()
def catalogue(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, e.g. docs/fields.md.")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Also show this agreement's data category per field."),
    ] = None,
) -> None:
    """Every field path of the canonical record in words (Markdown): meaning, type, Art 9."""
    from gateway.policy.tools import catalogue as fields

    bundle = bundle_or_fail(policy) if policy is not None else None
    if output is None:
        typer.echo(fields.render(bundle), nl=False)
    else:
        typer.echo(f"wrote {fields.write(output, bundle)}")


@policy_app.command("new-test")
def new_test(
    example: Annotated[Path, typer.Argument(help="A partner's example record.")],
    adapter: Annotated[str, typer.Option("--format", help="Its format, e.g. police.")],
    sender: Annotated[str, typer.Option("--sender", help="The party that submits it.")],
    policy: Annotated[
        Path, typer.Option("--policy-dir", help="Policy directory.")
    ] = DEFAULT_BUNDLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default stdout).")
    ] = None,
) -> None:
    """A policy test skeleton from an example record: today's decisions, each to confirm."""
    from gateway.policy.tools.new_test import skeleton

    bundle = bundle_or_fail(policy)
    try:
        body = example.read_bytes()
    except OSError as exc:
        fail(f"{example}: cannot be read: {exc.strerror}")
    try:
        text = skeleton(bundle, adapter, sender, body, example.name)
    except GatewayError as exc:
        fail(str(exc))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r} is not a date (YYYY-MM-DD) or ISO date-time")
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _recorded_store(data_dir: Path | None, database_url: str | None) -> Store:
    from gateway.settings import Settings
    from gateway.store import Store

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        fail(f"settings are not valid: {exc.errors()[0]['msg']}")
    url = settings.store_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            fail(f"no recorded exchanges: {path} does not exist (is --data-dir right?)")
    return Store.from_url(url)


@policy_app.command()
def replay(
    candidate_dir: Annotated[Path, typer.Argument(help="The proposed agreement.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Only exchanges submitted on or after.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="The gateway's data directory.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="The gateway's store, if not SQLite.")
    ] = None,
) -> None:
    """Dry-run a proposed agreement against the exchanges the gateway recorded."""
    candidate = bundle_or_fail(candidate_dir)
    after = _parse_since(since)
    store = _recorded_store(data_dir, database_url)
    try:
        report = replay_exchanges(candidate, store.iter_exchanges(after))
    except GatewayError as exc:
        fail(str(exc))
    except Exception as exc:  # the store is someone else's: say what failed, not a traceback
        fail(f"cannot read recorded exchanges: {type(exc).__name__}: {exc}")
    typer.echo(report.render())
