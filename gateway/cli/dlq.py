"""``gateway dlq``: dead letters, the deliveries that ran out of attempts."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import DataDir, fail, open_store

dlq_app = typer.Typer(
    no_args_is_help=True, help="Dead letters: deliveries that ran out of attempts."
)


@dlq_app.command("list")
def list_(
    data_dir: DataDir = None,
    all_: Annotated[bool, typer.Option("--all", help="Include replayed ones.")] = False,
) -> None:
    """List dead letters (open ones unless --all)."""
    from gateway.delivery import outbox

    with open_store(data_dir).engine.connect() as conn:
        rows = outbox.list_dead_letters(conn, replayed=all_)
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
def show(dead_letter_id: int, data_dir: DataDir = None) -> None:
    """Show one dead letter: where it was going, why it failed, how often it was tried."""
    import json

    from gateway.delivery import outbox

    with open_store(data_dir).engine.connect() as conn:
        row = outbox.get_dead_letter(conn, dead_letter_id)
    if row is None:
        raise fail(f"no dead letter {dead_letter_id}")
    typer.echo(json.dumps({k: str(v) if v is not None else None for k, v in row.items()}, indent=2))


@dlq_app.command("replay")
def replay(
    dead_letter_id: Annotated[int | None, typer.Argument(help="The dead letter to replay.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every open dead letter.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Put dead letters back in the outbox; a running gateway delivers them.

    Each replay is audited (as a redelivery) with the operator's login name."""
    import getpass

    from gateway.audit import Action
    from gateway.delivery import outbox
    from gateway.delivery.relay import delivery_audit
    from gateway.store.audit_log import append

    if (dead_letter_id is None) == (not all_):
        raise fail("give a dead letter id or --all (not both)")
    with open_store(data_dir).transaction() as conn:
        replayed = outbox.replay(conn, dead_letter_id)
        operator = f"operator:{getpass.getuser()}"
        append(
            conn,
            [
                delivery_audit(Action.REDELIVERY, operator, dict(row), dead_letter=row["id"])
                for row in replayed
            ],
        )
    if dead_letter_id is not None and not replayed:
        raise fail(f"no open dead letter {dead_letter_id}")
    ids = ", ".join(str(row["id"]) for row in replayed) or "-"
    typer.echo(f"replayed {len(replayed)} dead letter(s): {ids}")
