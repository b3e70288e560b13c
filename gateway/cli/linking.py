"""``gateway linking``: the data custodian's review of how records were linked to
one person across agencies (``gateway.linking``).

``index`` brings the index up to date; ``list`` shows the persons that join
several identifiers (``--conflicts``: those with two of a kind a person has
one of); ``show`` a person's evidence; ``unlink`` and ``relink`` a sighting,
with the reason, audited. No command prints an identifier: only keyed hashes,
record ids and refs, which the custodian looks up in the records themselves.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import DataDir, fail, open_store, settings_for
from gateway.linking import (
    LinkingKeyMissing,
    Review,
    ReviewError,
    catch_up,
    list_persons,
    relink,
    require_key,
    show,
    unlink,
)
from gateway.store import Store

linking_app = typer.Typer(
    no_args_is_help=True,
    help="The data custodian's review of links between records about one person.",
)

Reason = Annotated[str, typer.Option("--reason", help="Why (audited).")]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who reviews (audited). Default: custodian:<login name>."),
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of text.")]


def _open(data_dir: Path | None) -> Store:
    """The store, its linking index brought up to date first."""
    try:
        key = require_key(settings_for(data_dir))
    except LinkingKeyMissing as missing:
        raise fail(str(missing)) from None
    store = open_store(data_dir)
    catch_up(store, key)
    return store


def _by(by: str | None) -> str:
    return by or f"custodian:{getpass.getuser()}"


@linking_app.command("index")
def index_command(data_dir: DataDir = None) -> None:
    """Bring the linking index up to date with the stored records."""
    try:
        key = require_key(settings_for(data_dir))
    except LinkingKeyMissing as missing:
        raise fail(str(missing)) from None
    done = catch_up(open_store(data_dir), key, actor=_by(None))
    typer.echo(
        f"indexed {done.records} record(s): {done.sightings} subject(s) with identifiers, "
        f"{done.links} link(s), {done.merged} person(s) merged"
    )


@linking_app.command("list")
def list_command(
    conflicts: Annotated[
        bool, typer.Option("--conflicts", help="Only persons with two NHS numbers, PNC IDs ...")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Persons whose identifiers the gateway has linked, most identifiers first."""
    persons = list_persons(_open(data_dir), conflicts_only=conflicts, limit=limit)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "person": p.person,
                        "identifiers": p.identifiers,
                        "records": p.records,
                        "links": p.links,
                        "partners": list(p.partners),
                        "conflicts": p.conflicts,
                        "first_seen": p.first_seen.isoformat() if p.first_seen else None,
                        "last_seen": p.last_seen.isoformat() if p.last_seen else None,
                    }
                    for p in persons
                ],
                indent=2,
            )
        )
        return
    if not persons:
        typer.echo("no linked persons" + (" with conflicts" if conflicts else ""))
        return
    for p in persons:
        kinds = ", ".join(f"{k} x{n}" for k, n in p.identifiers.items())
        flag = f"  CONFLICT: {', '.join(p.conflicts)}" if p.conflicts else ""
        typer.echo(
            f"{p.person}  {kinds}; {p.records} record(s), {p.links} link(s) from "
            f"{', '.join(p.partners)}{flag}"
        )


@linking_app.command("show")
def show_command(person: str, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """The evidence for one person: each record their identifiers were seen in."""
    try:
        evidence = show(_open(data_dir), person)
    except ReviewError as problem:
        raise fail(str(problem)) from None
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in evidence], indent=2))
        return
    for e in evidence:
        status = "UNLINKED" if e.excluded else "linked"
        kinds = ", ".join(f"{kind} {digest[:12]}" for kind, digest in e.identifiers)
        entry = f" audit {e.audit_entry}" if e.audit_entry else ""
        typer.echo(
            f"{e.seen_at:%Y-%m-%d %H:%M} {e.exchange_id} {e.subject_ref} ({e.role}) from "
            f"{e.source_partner} [{e.category}]: {kinds} -- {status}{entry}"
        )


def _report(review: Review) -> None:
    before, after = review.persons["before"], review.persons["after"]
    typer.echo(
        f"{review.operation}ed subject {review.subject_ref} of {review.exchange_id}: "
        f"person(s) {', '.join(before) or '-'} -> {', '.join(after) or 'unchanged'}"
    )


@linking_app.command("unlink")
def unlink_command(
    exchange_id: str,
    subject_ref: str,
    reason: Reason,
    by: By = None,
    data_dir: DataDir = None,
) -> None:
    """This record's subject no longer joins its identifiers; the persons are re-derived."""
    try:
        _report(unlink(_open(data_dir), exchange_id, subject_ref, reason, _by(by)))
    except ReviewError as problem:
        raise fail(str(problem)) from None


@linking_app.command("relink")
def relink_command(
    exchange_id: str,
    subject_ref: str,
    reason: Reason,
    by: By = None,
    data_dir: DataDir = None,
) -> None:
    """Undo an unlink: the sighting joins its identifiers again."""
    try:
        _report(relink(_open(data_dir), exchange_id, subject_ref, reason, _by(by)))
    except ReviewError as problem:
        raise fail(str(problem)) from None
