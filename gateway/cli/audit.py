"""``gateway audit``: the tamper-evident audit trail."""

from __future__ import annotations

import typer

from gateway.cli.common import DataDir, fail, open_store

audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")


@audit_app.command("verify")
def verify(data_dir: DataDir = None) -> None:
    """Walk the audit chain; exit 1 naming the first entry that was tampered with."""
    import sqlalchemy as sa

    from gateway.audit.verify import verify_engine

    store = open_store(data_dir)
    try:
        report = verify_engine(store.engine)
    except sa.exc.SQLAlchemyError as exc:
        raise fail(f"cannot read the audit trail: {exc.__class__.__name__}: {exc}") from None
    if report.ok:
        algorithms = report.algorithms
        named = ", ".join(
            alg if len(algorithms) == 1 else f"{n} {alg}" for alg, n in algorithms.items()
        )
        typer.echo(
            f"audit chain intact: {report.entries} entries verified"
            + (f" ({named})" if named else "")
        )
        return
    finding = report.finding
    assert finding is not None
    typer.echo(
        f"audit chain BROKEN at entry {finding.seq} ({finding.kind}): {finding.message}", err=True
    )
    raise typer.Exit(1)
