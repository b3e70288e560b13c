"""The ``gateway`` command: serve, audit verify, db upgrade, policy tools.

Errors are a plain message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from gateway.cli_policy import policy_app
from gateway.errors import GatewayError, UnknownTopic, WorkersFailed
from gateway.settings import Settings, load_settings

if TYPE_CHECKING:
    from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")
db_app = typer.Typer(no_args_is_help=True, help="The store's schema.")
app.add_typer(audit_app, name="audit")
dlq_app = typer.Typer(
    no_args_is_help=True, help="Dead letters: deliveries that ran out of attempts."
)
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(policy_app, name="policy")

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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes. More than one needs an external store and broker; "
            "this process then runs the relay.",
        ),
    ] = 1,
) -> None:
    """Run the gateway's HTTP API (and, on the embedded default, its store and broker)."""
    import os

    import uvicorn

    from gateway.api import create_app

    _configure_logging()
    extra = {"policy_dir": policy_dir} if policy_dir else {}
    settings = settings_for(data_dir, **extra)
    if workers > 1 and not settings.external:
        raise fail(
            "--workers needs GATEWAY_DATABASE_URL and GATEWAY_KAFKA_BOOTSTRAP: "
            "the embedded store and broker belong to one process"
        )
    # With workers, this process only relays; the workers build their own pipelines.
    runtime = _start(settings, run_api=workers == 1)
    _print_urls(runtime, host, port)
    try:
        if workers == 1:
            app_ = create_app(runtime, stop_runtime_on_shutdown=True)
            uvicorn.run(app_, host=host, port=port, log_level="info")
        else:
            # Workers read their settings from the environment, as this process did.
            if data_dir is not None:
                os.environ["GATEWAY_DATA_DIR"] = str(data_dir)
            if policy_dir is not None:
                os.environ["GATEWAY_POLICY_DIR"] = str(policy_dir)
            from gateway.api.worker_pool import run_workers

            try:
                run_workers(host, port, workers)
            except WorkersFailed as exc:
                raise fail(str(exc)) from None
    finally:
        runtime.stop()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("kafka", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _start(settings: Settings, run_api: bool = True) -> Runtime:
    """Start a runtime, or exit with a plain message saying why it cannot start."""
    from gateway.runtime import Runtime

    runtime = Runtime(settings, run_api=run_api)
    try:
        return runtime.start()
    except (GatewayError, RuntimeError, ValueError) as exc:
        runtime.stop()
        raise fail(str(exc)) from None


def _print_urls(runtime: Runtime, host: str, port: int) -> None:
    settings = runtime.settings
    base = f"http://{host}:{port}"
    store_shown = settings.store_url if settings.database_url is None else "(external)"
    typer.echo(
        "\n".join(
            [
                "gateway ready",
                f"  API          {base}/v1/inbound/{{format}}  (formats: "
                f"{', '.join(runtime.registry.names())})",
                f"  API docs     {base}/docs",
                f"  health       {base}/healthz   ready: {base}/readyz   metrics: {base}/metrics",
                f"  store        {store_shown}",
                f"  broker       {runtime.bootstrap}" + ("  (embedded)" if runtime.broker else ""),
                f"  policy       {settings.policy_dir} ({runtime.bundle.version[:19]}...)",
                f"  topics       {', '.join(runtime.topics())}",
            ]
        )
    )
    sys.stdout.flush()


@app.command()
def relay(
    data_dir: DataDir = None,
) -> None:
    """Run outbox relay workers only (beside API processes that run without one)."""
    import signal
    import threading

    _configure_logging()
    settings = settings_for(data_dir)
    if not settings.external:
        raise fail("gateway relay needs GATEWAY_DATABASE_URL and GATEWAY_KAFKA_BOOTSTRAP")
    runtime = _start(settings, run_api=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    counts = ", ".join(
        f"{c.name} {settings.relay_workers or c.workers}" for c in runtime.relay.channels
    )
    typer.echo(f"relay running, worker threads per channel: {counts}")
    try:
        stop.wait()
    finally:
        runtime.stop()


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Walk the audit chain; exit 1 naming the first entry that was tampered with."""
    import sqlalchemy as sa

    from gateway.audit.verify import verify_engine

    store = _store(data_dir)
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


@app.command()
def messages(
    recipient: Annotated[str, typer.Argument(help="The recipient whose topic to read.")],
    data_dir: DataDir = None,
    urgent: Annotated[bool, typer.Option(help="Read the urgent topic instead.")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for messages.")] = 3.0,
) -> None:
    """Print what a recipient received on Kafka (one JSON message per line)."""
    import json

    from kafka.errors import KafkaError

    from gateway.delivery.reader import read_topic
    from gateway.delivery.topics import recipient_topic, urgent_topic
    from gateway.runtime import RUNTIME_FILE

    settings = settings_for(data_dir)
    bootstrap, prefix = settings.kafka_bootstrap, settings.topic_prefix
    info_file = settings.data_dir / RUNTIME_FILE
    if bootstrap is None:
        if not info_file.exists():
            raise fail(f"no running gateway found in {settings.data_dir.resolve()}")
        info = json.loads(info_file.read_text(encoding="utf-8"))
        bootstrap, prefix = info["kafka_bootstrap"], info["topic_prefix"]
    topic = urgent_topic(prefix) if urgent else recipient_topic(prefix, recipient)
    try:
        found = read_topic(bootstrap, topic, timeout=wait)
    except UnknownTopic as exc:
        raise fail(str(exc)) from None
    except KafkaError as exc:
        raise fail(f"cannot reach the broker at {bootstrap}: {exc}") from None
    for message in found:
        if urgent and message["headers"].get("recipient") != recipient:
            continue
        typer.echo(json.dumps(message, sort_keys=True))


def _store(data_dir: Path | None):
    from gateway.store import Store

    settings = settings_for(data_dir)
    if settings.database_url is None and not (settings.data_dir / "gateway.db").exists():
        raise fail(f"no store in {settings.data_dir.resolve()} (run `gateway serve` first)")
    return Store.from_url(settings.store_url)


@dlq_app.command("list")
def dlq_list(
    data_dir: DataDir = None,
    all_: Annotated[bool, typer.Option("--all", help="Include replayed ones.")] = False,
) -> None:
    """List dead letters (open ones unless --all)."""
    import sqlalchemy as sa

    from gateway.store.tables import dead_letters

    query = sa.select(dead_letters).order_by(dead_letters.c.id)
    if not all_:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    with _store(data_dir).engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    if not rows:
        typer.echo("no dead letters")
        return
    for row in rows:
        state = "replayed" if row["replayed_at"] else "open"
        typer.echo(
            f"{row['id']}\t{state}\t{row['recipient']}\t{row['channel']}\t"
            f"{row['delivery_id']}\t{row['reason'][:80]}"
        )


@dlq_app.command("show")
def dlq_show(dead_letter_id: int, data_dir: DataDir = None) -> None:
    """Show one dead letter: where it was going, why it failed, how often it was tried."""
    import json

    import sqlalchemy as sa

    from gateway.store.tables import dead_letters

    with _store(data_dir).engine.connect() as conn:
        row = (
            conn.execute(sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id))
            .mappings()
            .first()
        )
    if row is None:
        raise fail(f"no dead letter {dead_letter_id}")
    typer.echo(json.dumps({k: str(v) if v is not None else None for k, v in row.items()}, indent=2))


@dlq_app.command("replay")
def dlq_replay(
    dead_letter_id: Annotated[int | None, typer.Argument(help="The dead letter to replay.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every open dead letter.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Put dead letters back in the outbox; a running gateway delivers them.

    Each replay is audited (``redelivery``) with the operator's login name."""
    import getpass

    from gateway.audit import Action
    from gateway.delivery import outbox
    from gateway.delivery.relay import delivery_audit
    from gateway.store.audit_log import append

    if (dead_letter_id is None) == (not all_):
        raise fail("give a dead letter id or --all (not both)")
    with _store(data_dir).transaction() as conn:
        replayed = outbox.replay(conn, dead_letter_id)
        operator = f"operator:{getpass.getuser()}"
        append(
            conn,
            [
                delivery_audit(Action.REDELIVERY, operator, row, dead_letter=row["id"])
                for row in replayed
            ],
        )
    if dead_letter_id is not None and not replayed:
        raise fail(f"no open dead letter {dead_letter_id}")
    ids = ", ".join(str(row["id"]) for row in replayed) or "-"
    typer.echo(f"replayed {len(replayed)} dead letter(s): {ids}")


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending migrations to the configured store."""
    from gateway.store import Store

    settings = settings_for(data_dir)
    store = Store.from_url(settings.store_url)
    try:
        revision = store.upgrade()
    except Exception as exc:
        raise fail(f"migration failed: {exc}") from None
    typer.echo(f"store at migration {revision}")
    for warning in store.queue_table_warnings():
        typer.echo(f"warning: {warning}", err=True)


@db_app.command("prune")
def db_prune(
    data_dir: DataDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be erased; erase nothing.")
    ] = False,
) -> None:
    """Erase rows past their retention period (sent copies in the outbox, old
    Idempotency-Keys), as a running relay does every GATEWAY_RETENTION_CHECK_SECONDS.

    Each erasure is audited (``erasure``) with the operator's login name."""
    import getpass

    from gateway.errors import ServiceUnavailable
    from gateway.store.retention import erase_expired

    settings = settings_for(data_dir)
    store = _store(data_dir)
    try:
        erased = erase_expired(
            store, settings.retention, actor=f"operator:{getpass.getuser()}", dry_run=dry_run
        )
    except ServiceUnavailable as exc:
        raise fail(f"the store is unavailable: {exc}") from None
    verb = "would erase" if dry_run else "erased"
    typer.echo(
        f"{verb} {erased.sent_copies} sent cop{'y' if erased.sent_copies == 1 else 'ies'} "
        f"older than {settings.outbox_retention_days:g} days and "
        f"{erased.idempotency_keys} idempotency key(s) older than "
        f"{settings.idempotency_retention_days:g} days"
    )


if __name__ == "__main__":
    app()
