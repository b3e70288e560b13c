"""The ``gateway`` command: serve, audit verify, db upgrade, policy tools.

Errors are a plain message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from gateway.errors import GatewayError
from gateway.settings import Settings, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")
db_app = typer.Typer(no_args_is_help=True, help="The store's schema.")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The embedded default's data directory (as for serve)."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_for(data_dir: Path | None, **extra: object) -> Settings:
    overrides: dict[str, object] = dict(extra)
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return load_settings(**overrides)
    except (ValidationError, ValueError) as exc:
        raise fail(f"invalid settings: {exc}") from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    data_dir: DataDir = None,
    policy_dir: Annotated[
        Path | None, typer.Option("--policy-dir", help="Policy bundle in force.")
    ] = None,
) -> None:
    """Run the gateway's HTTP API (and, on the embedded default, its store and broker)."""
    import uvicorn

    from gateway.api import create_app
    from gateway.runtime import Runtime, StoreBehind

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("kafka", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    extra = {"policy_dir": policy_dir} if policy_dir else {}
    settings = settings_for(data_dir, **extra)
    runtime = Runtime(settings)
    try:
        runtime.start()
    except (GatewayError, StoreBehind, RuntimeError) as exc:
        runtime.stop()
        raise fail(str(exc)) from None
    base = f"http://{host}:{port}"
    store_shown = settings.store_url if settings.database_url is None else "(external)"
    typer.echo(
        "\n".join(
            [
                "gateway ready",
                f"  API          {base}/v1/inbound/{{format}}  (formats: "
                f"{', '.join(runtime.registry.names())})",
                f"  API docs     {base}/docs",
                f"  health       {base}/healthz   ready: {base}/readyz",
                f"  store        {store_shown}",
                f"  broker       {runtime.bootstrap}" + ("  (embedded)" if runtime.broker else ""),
                f"  policy       {settings.policy_dir} ({runtime.bundle.version[:19]}...)",
                f"  topics       {', '.join(runtime.topics())}",
            ]
        )
    )
    sys.stdout.flush()
    try:
        uvicorn.run(create_app(runtime), host=host, port=port, log_level="info")
    finally:
        runtime.stop()


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Walk the audit chain; exit 1 naming the first entry that was tampered with."""
    import sqlalchemy as sa

    from gateway.audit.verify import verify_engine
    from gateway.store import Store

    settings = settings_for(data_dir)
    if settings.database_url is None and not (settings.data_dir / "gateway.db").exists():
        raise fail(f"no store in {settings.data_dir.resolve()} (run `gateway serve` first)")
    store = Store.from_url(settings.store_url)
    try:
        report = verify_engine(store.engine)
    except sa.exc.SQLAlchemyError as exc:
        raise fail(f"cannot read the audit trail: {exc.__class__.__name__}: {exc}") from None
    if report.ok:
        typer.echo(f"audit chain intact: {report.entries} entries verified (sha256)")
        return
    finding = report.finding
    assert finding is not None
    typer.echo(
        f"audit chain BROKEN at entry {finding.seq} ({finding.kind}): {finding.message}", err=True
    )
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending migrations to the configured store."""
    from gateway.store import Store

    settings = settings_for(data_dir)
    try:
        revision = Store.from_url(settings.store_url).upgrade()
    except Exception as exc:
        raise fail(f"migration failed: {exc}") from None
    typer.echo(f"store at migration {revision}")


if __name__ == "__main__":
    app()
