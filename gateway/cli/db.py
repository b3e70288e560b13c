"""``gateway db``: the store's schema and retention."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import DataDir, agreement_retention, fail, open_store, settings_for

db_app = typer.Typer(no_args_is_help=True, help="The store: its schema and its retention.")


@db_app.command("upgrade")
def upgrade(data_dir: DataDir = None) -> None:
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
def prune(
    data_dir: DataDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be erased; erase nothing.")
    ] = False,
) -> None:
    """Erase rows past their retention period (sent copies in the outbox, old
    Idempotency-Keys, and received records' contents past the agreement's period),
    as a running relay does every GATEWAY_RETENTION_CHECK_SECONDS.

    Each erasure is audited (as an erasure) with the operator's login name."""
    import getpass

    from gateway.errors import ServiceUnavailable
    from gateway.store.retention import erase_expired, with_agreement

    settings = settings_for(data_dir)
    periods = agreement_retention(settings)
    records = periods.exchanges if periods else None
    store = open_store(data_dir)
    try:
        erased = erase_expired(
            store,
            with_agreement(settings.retention, records),
            actor=f"operator:{getpass.getuser()}",
            dry_run=dry_run,
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
    if records:
        typer.echo(f"{verb} the contents of {erased.exchanges} record(s) older than {records}")
    else:
        typer.echo("records are kept: the agreement sets no retention.exchanges")
