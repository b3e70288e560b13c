"""Signed checkpoints over the audit chain, and verifying a store against them.

A checkpoint is a *statement* (RFC 8785 bytes) signed with Ed25519:

    {"type": "isg-gateway/audit-checkpoint/1", "kind": "interval" | "on-demand" |
     "anchor", "key_id": ..., "created_at": ..., "first_seq": F,
     "first_prev_hash": P, "upto_seq": N, "head_hash": H, "entries": N - F + 1,
     "previous": SHA-256 hex of the previous checkpoint's statement, or null}

It says: the log begins at entry F, which links to P (the genesis hash, or the
last pruned entry's), and ends, when signed, at entry N whose hash is H. Each
checkpoint names the one before it, so the checkpoints form a chain too.

Before signing, the writer checks every entry since the previous checkpoint:
the chain holds, and each entry carries the gateway's seal (an HMAC under a
key derived from the signing key, ``gateway.audit.signing``). An entry forged
by someone who can write the database but does not hold the key is unsealed:
the checkpoint is refused, naming it, and is not signed over it.

``verify_store`` checks a store against its checkpoints (``gateway audit
verify``): what it guarantees is documented in docs/audit.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.audit.jcs import canonical
from gateway.audit.signing import AuditKeys, SigningKey, load_keys
from gateway.audit.verify import (
    GENESIS,
    JCS,
    Finding,
    VerifyReport,
    head_finding,
    head_row,
    snapshot,
    verify_chain,
)
from gateway.settings import Settings

log = logging.getLogger(__name__)

STATEMENT_TYPE = "isg-gateway/audit-checkpoint/1"
#: Whose checkpoints are kept: the interval's, ``gateway audit checkpoint``'s, and
#: the anchor a pruning writes at the first entry it keeps.
KINDS = ("interval", "on-demand", "anchor")
DECISIONS_DIGEST = "decisions_sha256"


def _streamed(conn: Connection, batch: int, statement: Any, *params: Any) -> Any:
    """Rows read ``batch`` at a time (server-side on PostgreSQL), for this statement only:
    ``Connection.execution_options`` would change the connection for every later one."""
    return conn.execute(statement.execution_options(yield_per=batch), *params)


class CheckpointRefused(RuntimeError):
    """The chain since the previous checkpoint does not hold: nothing was signed."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def keys_from_settings(settings: Settings, *, create: bool = True) -> AuditKeys:
    secret = settings.audit_signing_keys
    return load_keys(
        secret.get_secret_value() if secret is not None else None,
        list(settings.audit_retired_keys),
        settings.data_dir,
        create=create,
    )


@dataclass(frozen=True)
class Checkpoint:
    id: int
    key_id: str
    statement: bytes
    signature: str
    fields: dict[str, Any] = field(compare=False)

    @property
    def upto_seq(self) -> int:
        return int(self.fields["upto_seq"])

    @property
    def first_seq(self) -> int:
        return int(self.fields["first_seq"])

    def digest(self) -> str:
        return hashlib.sha256(self.statement).hexdigest()

    def as_record(self, span: bytes | None = None) -> dict[str, Any]:
        """How a checkpoint is exported and published: the statement's fields, the
        exact bytes signed (as text: RFC 8785 is UTF-8), the signature, and the span
        (the hashes it recorded, base64) when given."""
        return {
            "id": self.id,
            **self.fields,
            "statement": self.statement.decode("utf-8"),
            "signature": self.signature,
            **({"span": base64.b64encode(span).decode("ascii")} if span is not None else {}),
        }


def _parse(row: Any) -> Checkpoint:
    statement = bytes(row.statement)
    try:
        fields = json.loads(statement)
    except ValueError:
        fields = {}
    if not isinstance(fields, dict):
        fields = {}
    return Checkpoint(int(row.id), str(row.key_id), statement, str(row.signature), fields)


def load_checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(
        sa.text("SELECT id, key_id, statement, signature FROM audit_checkpoints ORDER BY id")
    ).all()
    return [_parse(r) for r in rows]


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    row = conn.execute(
        sa.text(
            "SELECT id, key_id, statement, signature FROM audit_checkpoints"
            " ORDER BY id DESC LIMIT 1"
        )
    ).first()
    return _parse(row) if row is not None else None


def _lock_head(conn: Connection) -> tuple[int, str]:
    """The head row, locked until commit: no entry is appended while we sign."""
    suffix = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    seq, head = conn.execute(
        sa.text(f"SELECT seq, hash FROM audit_head WHERE id = 1{suffix}")
    ).one()
    return int(seq), str(head)


def statement_for(
    key: SigningKey,
    kind: str,
    *,
    first_seq: int,
    first_prev_hash: str,
    upto_seq: int,
    head_hash: str,
    previous: Checkpoint | None,
    span: bytes | None = None,
    span_from: int | None = None,
) -> bytes:
    covered = (
        {"span_from": span_from, "span_sha256": hashlib.sha256(span).hexdigest()}
        if span is not None
        else {}
    )
    return canonical(
        {
            **covered,
            "type": STATEMENT_TYPE,
            "kind": kind,
            "key_id": key.key_id,
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "first_seq": first_seq,
            "first_prev_hash": first_prev_hash,
            "upto_seq": upto_seq,
            "head_hash": head_hash,
            "entries": max(0, upto_seq - first_seq + 1),
            "previous": previous.digest() if previous is not None else None,
        }
    )


def insert_checkpoint(
    conn: Connection, key: SigningKey, kind: str, statement: bytes, span: bytes | None = None
) -> int:
    fields = json.loads(statement)
    return int(
        conn.execute(
            sa.text(
                "INSERT INTO audit_checkpoints (upto_seq, kind, key_id, created_at, statement,"
                " signature, span) VALUES (:upto, :kind, :kid, :at, :statement, :signature,"
                " :span) RETURNING id"
            ),
            {
                "upto": fields["upto_seq"],
                "kind": kind,
                "kid": key.key_id,
                "at": fields["created_at"],
                "statement": statement,
                "signature": key.sign(statement),
                "span": span,
            },
        ).scalar_one()
    )


def span_after(previous: Checkpoint | None, first_seq: int) -> int:
    """The last entry the checkpoint before covers (a new one's span starts after it)."""
    if previous is not None and previous.upto_seq >= first_seq - 1:
        return max(previous.upto_seq, first_seq - 1)
    return first_seq - 1


def read_span(conn: Connection, after: int, upto: int) -> bytes:
    """The raw SHA-256 hashes of entries ``after + 1`` to ``upto``, in order."""
    rows = _streamed(
        conn,
        5000,
        sa.text("SELECT hash FROM audit_log WHERE seq > :a AND seq <= :u ORDER BY seq"),
        {"a": after, "u": upto},
    )
    return b"".join(bytes.fromhex(h) for (h,) in rows)


def load_span(conn: Connection, checkpoint_id: int) -> bytes | None:
    span = conn.execute(
        sa.text("SELECT span FROM audit_checkpoints WHERE id = :i"), {"i": checkpoint_id}
    ).scalar()
    return bytes(span) if span is not None else None


def take_checkpoint(
    engine_or_store: Any, keys: AuditKeys, kind: str = "on-demand", *, only_if_new: bool = False
) -> Checkpoint | None:
    """Sign the chain's head, after checking every entry since the previous checkpoint
    (CheckpointRefused naming the first bad one). With ``only_if_new``, nothing is
    written when no entry was appended since (the interval's checkpoints)."""
    key = keys.current
    if key is None:
        raise ValueError("no audit signing key is held: checkpoints cannot be signed")
    # Check what is there now in a snapshot, without the head's lock, so appends go on
    # meanwhile; under the lock only what was appended since is left to check.
    engine = getattr(engine_or_store, "engine", engine_or_store)
    with snapshot(engine) as conn:
        seen = latest_checkpoint(conn)
        at = head_row(conn) or {"seq": 0, "hash": GENESIS}
        if only_if_new and seen is not None and seen.upto_seq == at["seq"]:
            return None
        first_seq, first_prev = _log_start(seen)
        check_since(conn, keys, seen, first_seq, first_prev, at["seq"], at["hash"])
    transaction = getattr(engine_or_store, "transaction", None)
    context = transaction() if transaction is not None else engine_or_store.begin()
    with context as conn:
        upto, head = _lock_head(conn)
        previous = latest_checkpoint(conn)
        if only_if_new and previous is not None and previous.upto_seq == upto:
            return None
        first_seq, first_prev = _log_start(previous)
        checked: tuple[int, str] | None = (int(at["seq"]), str(at["hash"]))
        if (previous is not None and previous.upto_seq > at["seq"]) or first_seq > at["seq"]:
            checked = None  # another process signed (or pruned) past it meanwhile
        check_since(conn, keys, previous, first_seq, first_prev, upto, head, resume=checked)
        after = span_after(previous, first_seq)
        span = read_span(conn, after, upto)
        statement = statement_for(
            key,
            kind,
            first_seq=first_seq,
            first_prev_hash=first_prev,
            upto_seq=upto,
            head_hash=head,
            previous=previous,
            span=span,
            span_from=after + 1,
        )
        new_id = insert_checkpoint(conn, key, kind, statement, span)
    log.info("audit checkpoint %d signed by %s: entries up to %d", new_id, key.key_id, upto)
    return Checkpoint(new_id, key.key_id, statement, key.sign(statement), json.loads(statement))


def _log_start(previous: Checkpoint | None) -> tuple[int, str]:
    if previous is None:
        return 1, GENESIS
    return previous.first_seq, str(previous.fields["first_prev_hash"])


def check_since(
    conn: Connection,
    keys: AuditKeys,
    previous: Checkpoint | None,
    first_seq: int,
    first_prev: str,
    upto: int,
    head: str,
    *,
    resume: tuple[int, str] | None = None,
) -> None:
    """The entries after ``previous`` (or after ``resume``, an entry already checked
    so) hold together, reach ``head`` and are sealed (streamed: the first checkpoint
    of a long trail reads it all)."""
    at_head = {"seq": upto, "hash": head}
    if resume is not None:
        after = resume[0]
        report = verify_chain(conn, resume=resume, head=at_head)
    elif previous is not None and previous.upto_seq >= previous.first_seq:
        after = previous.upto_seq
        report = verify_chain(conn, resume=(after, str(previous.fields["head_hash"])), head=at_head)
    else:
        after = first_seq - 1
        report = verify_chain(conn, starts={first_seq: first_prev}, head=at_head)
    if report.finding is not None:
        raise CheckpointRefused(report.finding)
    if report.entries == 0 and upto > after:
        raise CheckpointRefused(head_finding(after, at_head))
    unsealed = first_unsealed(conn, keys, after)
    if unsealed is not None:
        raise CheckpointRefused(unsealed)


def first_unsealed(conn: Connection, keys: AuditKeys, after: int) -> Finding | None:
    """The first ``jcs-sha256`` entry after ``after`` without a valid seal by a key held."""
    result = _streamed(
        conn,
        5000,
        sa.text(
            "SELECT seq, entry_id, hash, seal FROM audit_log"
            " WHERE seq > :a AND hash_alg = :jcs ORDER BY seq"
        ),
        {"a": after, "jcs": JCS},
    )
    for seq, entry_id, entry_hash, seal in result:
        if not keys.seal_ok(int(seq), entry_hash, seal):
            why = "carries no seal" if not seal else "carries a seal no key held made"
            return Finding(
                int(seq),
                entry_id,
                "forged",
                f"entry {seq} {why}: it was not appended by the gateway (a forged append, "
                "or an entry rewritten and re-hashed)",
            )
    return None


# -- verifying a store against its checkpoints --------------------------------------


@dataclass(frozen=True)
class StoreReport:
    """What ``gateway audit verify`` found."""

    chain: VerifyReport
    finding: Finding | None
    checkpoints: int = 0
    latest: Checkpoint | None = None
    #: Entries after the newest checkpoint (verified, sealed, not yet signed).
    uncovered: int = 0
    #: Exchanges whose decisions were checked against the hash their entries state.
    exchanges: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.finding is None


def _check_checkpoints(
    checkpoints: list[Checkpoint], keys: AuditKeys | None
) -> tuple[Finding | None, list[str]]:
    notes: list[str] = []
    previous: Checkpoint | None = None
    for cp in checkpoints:
        where = cp.upto_seq if "upto_seq" in cp.fields else 0
        if cp.fields.get("type") != STATEMENT_TYPE or cp.fields.get("key_id") != cp.key_id:
            return Finding(where, None, "checkpoint", f"checkpoint {cp.id} is malformed"), notes
        if keys is not None and not keys.verify(cp.key_id, cp.statement, cp.signature):
            why = (
                "by a key that is not trusted"
                if cp.key_id not in keys.trusted
                else "with a signature that does not verify"
            )
            return Finding(
                where, None, "checkpoint", f"checkpoint {cp.id} is forged: signed {why}"
            ), notes
        expected_previous = previous.digest() if previous is not None else None
        if cp.fields.get("previous") != expected_previous:
            return Finding(
                where,
                None,
                "checkpoint",
                f"checkpoint {cp.id} does not follow the checkpoint before it: "
                "checkpoints were removed or replaced",
            ), notes
        if previous is not None and (
            cp.upto_seq < previous.upto_seq or cp.first_seq < previous.first_seq
        ):
            return Finding(
                where, None, "checkpoint", f"checkpoint {cp.id} goes back on the one before it"
            ), notes
        previous = cp
    if keys is None:
        notes.append("checkpoint signatures not checked (no keys given)")
    return None, notes


def verify_store(
    engine: Engine,
    keys: AuditKeys | None,
    *,
    held: list[Checkpoint] | None = None,
    check_decisions: bool = True,
) -> StoreReport:
    """The chain, its checkpoints, the seals of entries not yet covered and the
    exchanges' decisions. ``held``: checkpoints kept elsewhere (an earlier export),
    which the store must still extend."""
    with snapshot(engine) as conn:
        checkpoints = load_checkpoints(conn)
        head = head_row(conn)
        finding, notes = _check_checkpoints(checkpoints, keys)
        if finding is not None:
            return StoreReport(VerifyReport(0, None), finding, len(checkpoints), notes=notes)
        for outside in held or []:
            finding = _check_held(outside, checkpoints, keys)
            if finding is not None:
                return StoreReport(VerifyReport(0, None), finding, len(checkpoints), notes=notes)
        latest = checkpoints[-1] if checkpoints else None
        starts = {cp.first_seq: str(cp.fields["first_prev_hash"]) for cp in checkpoints}
        wanted = {cp.upto_seq for cp in checkpoints}
        wanted |= {h.upto_seq for h in held or []}
        chain = verify_chain(conn, starts=starts, wanted=wanted, head=head)
        report = StoreReport(chain, chain.finding, len(checkpoints), latest, notes=notes)
        if chain.finding is not None:
            return report
        finding = _against_checkpoints(conn, chain, [*checkpoints, *(held or [])], keys, head)
        if finding is not None:
            return StoreReport(chain, finding, len(checkpoints), latest, notes=notes)
        covered = latest.upto_seq if latest is not None else chain.first_seq - 1
        uncovered = max(0, chain.last_seq - covered)
        if keys is not None and keys.held:
            finding = first_unsealed(conn, keys, covered)
            if finding is not None:
                return StoreReport(chain, finding, len(checkpoints), latest, uncovered, notes=notes)
        elif uncovered:
            notes.append("seals of the entries not yet covered not checked (no key held)")
        exchanges = 0
        if check_decisions:
            finding, exchanges = check_decisions_column(conn, chain.first_seq)
            if finding is not None:
                return StoreReport(
                    chain, finding, len(checkpoints), latest, uncovered, exchanges, notes
                )
    return StoreReport(chain, None, len(checkpoints), latest, uncovered, exchanges, notes)


def _check_held(
    outside: Checkpoint, checkpoints: list[Checkpoint], keys: AuditKeys | None
) -> Finding | None:
    if keys is not None and not keys.verify(outside.key_id, outside.statement, outside.signature):
        return Finding(outside.upto_seq, None, "checkpoint", "the checkpoint given does not verify")
    if any(cp.statement == outside.statement for cp in checkpoints):
        return None
    later = [cp for cp in checkpoints if cp.upto_seq >= outside.upto_seq]
    if not later:
        return Finding(
            outside.upto_seq,
            None,
            "checkpoint",
            f"the store's checkpoints stop before the one given (entry {outside.upto_seq}, "
            f"signed {outside.fields.get('created_at')}): newer checkpoints were removed",
        )
    return None


def _against_checkpoints(
    conn: Connection,
    chain: VerifyReport,
    checkpoints: list[Checkpoint],
    keys: AuditKeys | None,
    head: dict[str, Any] | None,
) -> Finding | None:
    """Each checkpoint's entry still has the hash it signed, and is still there."""
    if chain.entries == 0:
        latest = checkpoints[-1] if checkpoints else None
        first = latest.first_seq if latest is not None else 1
        upto = max(latest.upto_seq if latest is not None else 0, head["seq"] if head else 0)
        if upto >= first:
            return Finding(
                first,
                None,
                "removed",
                f"the audit log is empty, but entries {first} to {upto} were recorded "
                "(its checkpoints and head say so): every entry was removed",
            )
        return None
    matched = chain.first_seq - 1
    for cp in sorted(checkpoints, key=lambda c: c.upto_seq):
        if cp.upto_seq < chain.first_seq:
            continue  # signed over entries since pruned; the anchor stands for them
        if cp.upto_seq > chain.last_seq:
            return Finding(
                chain.last_seq + 1,
                None,
                "removed",
                f"entries {chain.last_seq + 1} to {cp.upto_seq} were removed: checkpoint "
                f"{cp.id} signed entry {cp.upto_seq}, and the log now ends at "
                f"{chain.last_seq} (truncated)",
            )
        if chain.hashes.get(cp.upto_seq) != cp.fields.get("head_hash"):
            return _rehashed(conn, matched, cp, keys)
        matched = cp.upto_seq
    return None


def _rehashed(conn: Connection, matched: int, cp: Checkpoint, keys: AuditKeys | None) -> Finding:
    """The chain holds together but no longer reaches the hash ``cp`` signed: an entry
    after ``matched`` was rewritten and the rest re-hashed. The hashes the checkpoint
    recorded (its span, whose digest it signed) name it; else the seals."""
    named = first_unlike_span(conn, cp)
    if named is not None:
        seq, entry_id = named
        return Finding(
            seq,
            entry_id,
            "changed",
            f"entry {seq} was changed and the chain after it re-hashed: its hash is not the "
            f"one checkpoint {cp.id} recorded, and that checkpoint signed a different hash "
            f"for entry {cp.upto_seq}",
        )
    if keys is not None and keys.held:
        forged = first_unsealed(conn, keys, matched)
        if forged is not None and forged.seq <= cp.upto_seq:
            return Finding(
                forged.seq,
                forged.entry_id,
                "changed",
                f"entry {forged.seq} was changed and the chain after it re-hashed: "
                f"checkpoint {cp.id} signed a different hash for entry {cp.upto_seq}, and "
                f"entry {forged.seq} is the first whose seal no longer matches",
            )
    return Finding(
        matched + 1,
        None,
        "changed",
        f"an entry from {matched + 1} to {cp.upto_seq} was changed and the chain after it "
        f"re-hashed: checkpoint {cp.id} signed a different hash for entry {cp.upto_seq}",
    )


def first_unlike_span(conn: Connection, cp: Checkpoint) -> tuple[int, str | None] | None:
    """The first entry of ``cp``'s span whose stored hash is not the one it recorded,
    when the span is there and is the one signed."""
    span = load_span(conn, cp.id)
    start = cp.fields.get("span_from")
    if span is None or start is None or len(span) % 32:
        return None
    if hashlib.sha256(span).hexdigest() != cp.fields.get("span_sha256"):
        return None
    rows = _streamed(
        conn,
        5000,
        sa.text(
            "SELECT seq, entry_id, hash FROM audit_log WHERE seq >= :a AND seq <= :u ORDER BY seq"
        ),
        {"a": int(start), "u": cp.upto_seq},
    )
    for seq, entry_id, entry_hash in rows:
        i = (int(seq) - int(start)) * 32
        if span[i : i + 32].hex() != entry_hash:
            return int(seq), entry_id
    return None


def check_decisions_column(conn: Connection, first_seq: int) -> tuple[Finding | None, int]:
    """Each exchange's ``decisions`` column still hashes to what the last entry stating
    a hash for it says (``decisions_sha256`` in its details). Exchanges with no such
    entry (written before, or whose entries were pruned) are not checked."""
    column = "e.decisions::text" if conn.dialect.name == "postgresql" else "e.decisions"
    stating = f"details LIKE '%\"{DECISIONS_DIGEST}\"%'"
    rows = _streamed(
        conn,
        1000,
        sa.text(
            f"SELECT a.exchange_id, a.seq, a.entry_id, a.details, {column}"
            " FROM audit_log a JOIN exchanges e ON e.exchange_id = a.exchange_id"
            f" WHERE a.seq >= :first AND a.{stating} AND NOT EXISTS (SELECT 1 FROM audit_log b"
            f" WHERE b.exchange_id = a.exchange_id AND b.seq > a.seq AND b.{stating})"
        ),
        {"first": first_seq},
    )
    checked = 0
    first_bad: Finding | None = None
    for exchange_id, seq, entry_id, details, decisions in rows:
        digest = json.loads(details).get(DECISIONS_DIGEST)
        if digest is None or decisions is None:
            continue
        checked += 1
        actual = hashlib.sha256(str(decisions).encode("utf-8")).hexdigest()
        if actual != digest and (first_bad is None or int(seq) < first_bad.seq):
            first_bad = Finding(
                int(seq),
                entry_id,
                "decisions-changed",
                f"exchange {exchange_id}'s stored decisions were changed after entry {seq} "
                "recorded them: they no longer hash to what it states",
            )
    return first_bad, checked


# -- the interval ---------------------------------------------------------------------


def keep_checkpointing(
    engine_or_store: Any, keys: AuditKeys, stop: threading.Event, interval_seconds: float
) -> None:
    """Sign a checkpoint every ``interval_seconds`` when entries were appended since the
    last. A refused checkpoint is logged as an error each time, naming the entry."""
    while not stop.wait(interval_seconds):
        try:
            take_checkpoint(engine_or_store, keys, "interval", only_if_new=True)
        except CheckpointRefused as refused:
            log.error("audit checkpoint REFUSED: %s", refused.finding.message)
        except Exception as exc:
            log.warning("audit checkpoint failed, will try again: %s", exc)


def read_held(path: Path) -> list[Checkpoint]:
    """Checkpoints kept elsewhere: an export's ``checkpoints.jsonl`` (or one line of it)."""
    held = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            statement = str(record["statement"]).encode("utf-8")
            held.append(
                Checkpoint(
                    int(record.get("id", 0)),
                    str(record["key_id"]),
                    statement,
                    str(record["signature"]),
                    json.loads(statement),
                )
            )
    return held
