"""``gateway audit``: the tamper-evident audit trail (docs/audit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.common import DataDir, agreement_retention, fail, open_store, settings_for

if TYPE_CHECKING:
    from gateway.audit.signing import AuditKeys

audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")


def _keys(data_dir: Path | None, *, create: bool) -> AuditKeys:
    from gateway.audit.checkpoints import keys_from_settings
    from gateway.audit.signing import AuditKeyError

    try:
        return keys_from_settings(settings_for(data_dir), create=create)
    except (AuditKeyError, ValueError) as exc:
        raise fail(f"cannot read the audit signing keys: {exc}") from None


@audit_app.command("verify")
def verify(
    data_dir: DataDir = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Checkpoints kept elsewhere (an earlier export's checkpoints.jsonl): the "
            "store must still extend them.",
        ),
    ] = None,
) -> None:
    """Walk the audit chain and check it against its signed checkpoints; exit 1 naming
    the first entry that was tampered with."""
    import sqlalchemy as sa

    from gateway.audit.checkpoints import read_held, verify_store

    keys = _keys(data_dir, create=False)
    held = []
    if checkpoint is not None:
        try:
            held = read_held(checkpoint)
        except (OSError, ValueError, KeyError) as exc:
            raise fail(f"cannot read {checkpoint}: {exc}") from None
    store = open_store(data_dir)
    try:
        report = verify_store(store.engine, keys, held=held)
    except sa.exc.SQLAlchemyError as exc:
        raise fail(f"cannot read the audit trail: {exc.__class__.__name__}: {exc}") from None
    finally:
        store.engine.dispose()
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    if report.ok:
        chain = report.chain
        algorithms = chain.algorithms
        named = ", ".join(
            alg if len(algorithms) == 1 else f"{n} {alg}" for alg, n in algorithms.items()
        )
        typer.echo(
            f"audit chain intact: {chain.entries} entries verified"
            + (f" ({named})" if named else "")
            + (f", from entry {chain.first_seq} (pruned before)" if chain.first_seq > 1 else "")
        )
        if report.latest is not None:
            typer.echo(
                f"checkpoints: {report.checkpoints} signed, the newest (by key "
                f"{report.latest.key_id}) covers entries up to {report.latest.upto_seq}"
            )
        else:
            typer.echo("checkpoints: none yet (run `gateway audit checkpoint`)")
        if report.uncovered:
            typer.echo(
                f"{report.uncovered} entries not yet covered by a checkpoint "
                "(chained and sealed; the next checkpoint signs them)"
            )
        typer.echo(f"decisions: {report.exchanges} exchanges' decisions match their entries")
        return
    finding = report.finding
    assert finding is not None
    typer.echo(
        f"audit chain BROKEN at entry {finding.seq} ({finding.kind}): {finding.message}", err=True
    )
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint(data_dir: DataDir = None) -> None:
    """Sign a checkpoint of the chain now, after checking every entry since the last."""
    from gateway.audit.checkpoints import CheckpointRefused, take_checkpoint

    keys = _keys(data_dir, create=True)
    store = open_store(data_dir)
    try:
        made = take_checkpoint(store, keys, "on-demand")
    except CheckpointRefused as refused:
        finding = refused.finding
        typer.echo(
            f"checkpoint REFUSED at entry {finding.seq} ({finding.kind}): {finding.message}",
            err=True,
        )
        raise typer.Exit(1) from None
    finally:
        store.engine.dispose()
    assert made is not None
    typer.echo(
        f"checkpoint {made.id} signed by key {made.key_id}: entries "
        f"{made.first_seq} to {made.upto_seq}, head {made.fields['head_hash']}"
    )


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="A new or empty directory.")],
    data_dir: DataDir = None,
) -> None:
    """Write the entries, checkpoints and public keys to a directory, for an outside
    verifier (scripts/verify_audit_export.py) to check without the gateway."""
    from gateway.audit.export import ExportError, export_store

    keys = _keys(data_dir, create=False)
    store = open_store(data_dir)
    try:
        summary = export_store(store.engine, keys, out)
    except ExportError as exc:
        raise fail(str(exc)) from None
    finally:
        store.engine.dispose()
    typer.echo(
        f"exported {summary.entries} entries, {summary.checkpoints} checkpoints and "
        f"{summary.keys} public keys to {out}"
    )


@audit_app.command("keys")
def keys(data_dir: DataDir = None) -> None:
    """The public keys checkpoints are verified with (as GET /v1/audit/keys shows)."""
    import json

    typer.echo(json.dumps({"keys": _keys(data_dir, create=False).published()}, indent=2))


@audit_app.command("rotate-key")
def rotate_key(data_dir: DataDir = None) -> None:
    """Rotate the key kept in the data directory: a checkpoint is signed with the old key
    first, then a new key signs from now on; the old one is kept to check seals."""
    from gateway.audit.checkpoints import CheckpointRefused, take_checkpoint
    from gateway.audit.signing import rotate_key_file

    settings = settings_for(data_dir)
    if settings.audit_signing_keys is not None:
        raise fail(
            "the signing keys come from GATEWAY_AUDIT_SIGNING_KEYS: rotate them there "
            "(put the new key first and keep the old one after it; docs/audit.md)"
        )
    store = open_store(data_dir)
    try:
        take_checkpoint(store, _keys(data_dir, create=True), "on-demand", only_if_new=True)
    except CheckpointRefused as refused:
        raise fail(f"not rotated: the last checkpoint was refused: {refused}") from None
    finally:
        store.engine.dispose()
    new, old = rotate_key_file(settings.data_dir)
    typer.echo(f"new audit signing key {new}; {old} kept to check the seals it made")


@audit_app.command("prune")
def prune(
    older_than_days: Annotated[
        float | None,
        typer.Option(
            "--older-than-days",
            min=1,
            help="Prune entries older than this; default: the agreement's retention.audit_trail.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Prune the audit entries older than the agreement's retention for the audit
    trail (or N days), behind a signed anchor checkpoint. Run as the operator: on
    PostgreSQL the gateway's own role cannot delete audit entries."""
    import getpass
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from gateway.audit.checkpoints import CheckpointRefused
    from gateway.policy.model import parse_period
    from gateway.store.retention import prune_audit_trail

    if older_than_days is not None:
        period = timedelta(days=older_than_days)
    else:
        periods = agreement_retention(settings_for(data_dir))
        if periods is None or periods.audit_trail is None:
            raise fail(
                "the agreement sets no retention.audit_trail: give --older-than-days"
            ) from None
        period = parse_period(periods.audit_trail)
    keys = _keys(data_dir, create=True)
    store = open_store(data_dir)
    cutoff = datetime.now(UTC) - period
    try:
        pruned = prune_audit_trail(store, keys, cutoff, actor=f"operator:{getpass.getuser()}")
    except CheckpointRefused as refused:
        raise fail(f"nothing pruned: the audit trail does not verify: {refused}") from None
    except sa.exc.DBAPIError as exc:
        raise fail(
            f"nothing pruned: {exc.orig}. Pruning needs the operator's database role "
            "(docs/operations.md)"
        ) from None
    finally:
        store.engine.dispose()
    if pruned.anchor_id is None:
        typer.echo(f"nothing to prune: the log begins at entry {pruned.first_kept}")
        return
    typer.echo(
        f"pruned {pruned.entries} audit entries; the log now begins at entry "
        f"{pruned.first_kept}, anchored by checkpoint {pruned.anchor_id}"
    )
