"""Verifying the audit chain, independently of the code that writes it.

This module shares no code with ``gateway.audit.chain``: it reads the rows
with plain SQL and recomputes each hash from the documented rule. Each entry
names its algorithm (``hash_alg``):

- ``sha256`` and ``sha256-text`` (older entries): ``hash = hex(SHA-256(prev_hash
  + canonical_json(entry)))`` where ``entry`` holds every column except
  ``seq`` and ``hash``, canonical JSON has sorted keys and no spaces, and
  ``details`` is parsed first (``sha256``) or taken as its stored text
  (``sha256-text``);
- ``jcs-sha256``: ``hash = hex(SHA-256(prev_hash || canonical))`` over the
  stored RFC 8785 bytes. Nothing is serialised: the log is streamed in
  batches, and each batch hashed by C loops (``map``), so memory stays flat
  and the rate is close to bare SHA-256's. The readable columns are then
  checked against ``canonical`` by the database itself (one statement), with
  a precise look (parsing ``canonical``) only at rows it flags.

Then, where ``gateway.audit.checkpoints`` is given keys: every checkpoint's
signature, the chain of checkpoints, that each checkpoint's entry still has
the hash it signed (rewrite-and-rehash, truncation below it, an emptied log),
that entries after the newest checkpoint carry the gateway's seal (a forged
append), and that each exchange's stored decisions still hash to what its
entries state.

It names the first bad entry and what happened to it:

- *changed*: an entry's hash does not match its contents, or its hash was
  recomputed and the next entry still links to the original;
- *removed*: a sequence number is missing, or a link points at nothing;
- *inserted*: an entry sits between two entries that link to each other;
- *reordered*: an entry links to an entry that comes after it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: hash_alg -> (hash function, whether ``details`` is hashed as its stored text)
_ALGORITHMS = {"sha256": (hashlib.sha256, False), "sha256-text": (hashlib.sha256, True)}
JCS = "jcs-sha256"
GENESIS = "0" * 64
#: Rows read and hashed at a time: big enough that the per-batch work vanishes,
#: small enough that memory does not grow with the log.
BATCH = 2_000

_COLUMNS = (
    "seq, entry_id, recorded_at, action, actor, recipient, exchange_id, details,"
    " hash_alg, prev_hash, hash, canonical, seal"
)


@dataclass(frozen=True)
class Finding:
    seq: int
    entry_id: str | None
    kind: str  # changed | removed | inserted | reordered | forged | unknown-algorithm ...
    message: str


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    finding: Finding | None
    #: The hash algorithms the verified entries name, each with how many use it, in
    #: the order the chain took them up.
    algorithms: dict[str, int] = field(default_factory=dict)
    #: The first entry kept (1 unless the oldest were pruned behind an anchor).
    first_seq: int = 1
    #: The newest entry in the log (0: none).
    last_seq: int = 0
    #: Each entry's hash as computed, at the sequence numbers asked for.
    hashes: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.finding is None


def _recompute(row: dict[str, Any]) -> str | None:
    if row["hash_alg"] == JCS:
        canonical = row["canonical"]
        if canonical is None:
            return "(no canonical bytes)"
        return hashlib.sha256(row["prev_hash"].encode("utf-8") + bytes(canonical)).hexdigest()
    known = _ALGORITHMS.get(row["hash_alg"])
    if known is None:
        return None
    algorithm, details_as_text = known
    entry = {
        "entry_id": row["entry_id"],
        "recorded_at": row["recorded_at"],
        "action": row["action"],
        "actor": row["actor"],
        "recipient": row["recipient"],
        "exchange_id": row["exchange_id"],
        "details": row["details"] if details_as_text else json.loads(row["details"]),
        "hash_alg": row["hash_alg"],
        "prev_hash": row["prev_hash"],
    }
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return algorithm((row["prev_hash"] + text).encode("utf-8")).hexdigest()


def _diagnose_link(rows: list[dict[str, Any]], i: int) -> Finding:
    """rows[i] does not link to rows[i-1]: work out why, naming the first bad entry."""
    row, prev = rows[i], rows[i - 1]
    by_hash = {r["hash"]: j for j, r in enumerate(rows)}
    target = by_hash.get(row["prev_hash"])
    if target is not None and target > i:
        return Finding(
            row["seq"],
            row["entry_id"],
            "reordered",
            f"entry {row['seq']} is out of order: it was written after entry "
            f"{rows[target]['seq']}, which now comes later",
        )
    if target is not None and target < i - 1:
        bad = rows[target + 1]
        return Finding(
            bad["seq"],
            bad["entry_id"],
            "inserted",
            f"entry {bad['seq']} was inserted: entry {row['seq']} was written directly "
            f"after entry {rows[target]['seq']}",
        )
    if row["seq"] != prev["seq"] + 1:
        return Finding(
            prev["seq"] + 1,
            None,
            "removed",
            f"entry {prev['seq'] + 1} was removed: entry {row['seq']} follows entry {prev['seq']}",
        )
    return Finding(
        prev["seq"],
        prev["entry_id"],
        "changed",
        f"entry {prev['seq']} was changed and its hash recomputed: entry {row['seq']} "
        "still links to the original",
    )


def verify_rows(
    rows: list[dict[str, Any]],
    head: dict[str, Any] | None = None,
    *,
    start_seq: int = 1,
    start_prev: str = GENESIS,
) -> VerifyReport:
    """Verify ``rows`` (whole rows, in seq order) row by row: the plain way, used for
    older entries and to name what broke where the fast pass found a break."""
    seen_jcs = False
    for i, row in enumerate(rows):
        expected = _recompute(row)
        if expected is None:
            return VerifyReport(
                i,
                Finding(
                    row["seq"],
                    row["entry_id"],
                    "unknown-algorithm",
                    f"entry {row['seq']} names an unknown hash algorithm {row['hash_alg']!r}",
                ),
            )
        if i == 0:
            if row["seq"] != start_seq:
                return VerifyReport(
                    i,
                    Finding(
                        start_seq,
                        None,
                        "removed",
                        f"entry {start_seq} was removed: the chain starts at {row['seq']}",
                    ),
                )
            if row["prev_hash"] != start_prev:
                return VerifyReport(i, _diagnose_first(rows, start_seq))
        elif row["prev_hash"] != rows[i - 1]["hash"]:
            return VerifyReport(i, _diagnose_link(rows, i))
        elif row["seq"] != rows[i - 1]["seq"] + 1:
            return VerifyReport(
                i,
                Finding(
                    rows[i - 1]["seq"] + 1,
                    None,
                    "removed",
                    f"entry {rows[i - 1]['seq'] + 1} is missing before entry {row['seq']}",
                ),
            )
        if expected != row["hash"]:
            return VerifyReport(
                i,
                Finding(
                    row["seq"],
                    row["entry_id"],
                    "changed",
                    f"entry {row['seq']} was changed: its hash does not match its contents",
                ),
            )
        if row["hash_alg"] == JCS:
            seen_jcs = True
        elif seen_jcs:
            return VerifyReport(
                i,
                Finding(
                    row["seq"],
                    row["entry_id"],
                    "changed",
                    f"entry {row['seq']} was changed: it names the older algorithm "
                    f"{row['hash_alg']!r} after the chain took up {JCS}",
                ),
            )
    if (
        head is not None
        and rows
        and (head["seq"], head["hash"]) != (rows[-1]["seq"], rows[-1]["hash"])
    ):
        return VerifyReport(len(rows), head_finding(rows[-1]["seq"], head))
    algorithms: dict[str, int] = {}
    for row in rows:
        algorithms[row["hash_alg"]] = algorithms.get(row["hash_alg"], 0) + 1
    return VerifyReport(
        len(rows),
        None,
        algorithms,
        first_seq=rows[0]["seq"] if rows else start_seq,
        last_seq=rows[-1]["seq"] if rows else start_seq - 1,
    )


def head_finding(last_seq: int, head: dict[str, Any]) -> Finding:
    return Finding(
        last_seq + 1,
        None,
        "removed",
        f"the chain ends at entry {last_seq} but its head records entry "
        f"{head['seq']}: the newest entries were removed",
    )


def _diagnose_first(rows: list[dict[str, Any]], start_seq: int) -> Finding:
    row = rows[0]
    later = next((r for r in rows[1:] if r["hash"] == row["prev_hash"]), None)
    if later is not None:
        return Finding(
            row["seq"],
            row["entry_id"],
            "reordered",
            f"entry {row['seq']} is out of order: it was written after entry {later['seq']}",
        )
    where = "does not start the chain" if start_seq == 1 else "does not follow the entry before it"
    return Finding(row["seq"], row["entry_id"], "changed", f"entry {row['seq']} {where}")


# -- the streaming pass ------------------------------------------------------------


@contextmanager
def batched_cursor(conn: Connection, sql: str, params: tuple[Any, ...]) -> Iterator[Any]:
    """A DB-API cursor over ``sql`` that fetches in batches: on PostgreSQL a server-side
    cursor with binary results (bytea arrives as bytes, not hex text)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        with raw.cursor(name="audit_verify", binary=True) as cursor:
            cursor.itersize = BATCH
            cursor.execute(sql.replace("?", "%s"), params)
            yield cursor
    else:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
            yield cursor
        finally:
            cursor.close()


_hex = methodcaller("hexdigest")
_join = bytes.__add__


def hash_pass(
    conn: Connection, after: int, prev: str, wanted: set[int], hashes: dict[int, str]
) -> tuple[int, str, int | None]:
    """Hash every entry after ``after`` (all ``jcs-sha256``), batch by batch.

    Rows are read as (canonical, hash), nothing else. Each entry's hash must be
    SHA-256 of the previous entry's stored hash and its own canonical bytes; as
    that uses only stored values, a batch's hashes are one ``map`` in C and the
    check one list comparison, with no Python-level loop over entries. The caller
    has checked the sequence numbers are contiguous (``_contiguous``).
    Returns (last seq, its hash, the seq where a batch first went wrong or None)."""
    sha256 = hashlib.sha256
    sql = "SELECT canonical, hash FROM audit_log WHERE seq > ? ORDER BY seq"
    last_seq, last = after, prev.encode("ascii")
    with batched_cursor(conn, sql, (after,)) as cursor:
        while batch := cursor.fetchmany(BATCH):
            first = last_seq + 1
            canonicals, stored = zip(*batch, strict=True)
            stored_bytes = list(map(str.encode, stored))
            links = chain((last,), stored_bytes)  # each entry's: the one before's hash
            try:
                computed = tuple(map(_hex, map(sha256, map(_join, links, canonicals))))
            except TypeError:  # a row without canonical bytes where only jcs may be
                return last_seq, last.decode(), first
            if computed != stored:
                return last_seq, last.decode(), first
            end = first + len(batch) - 1
            for seq in wanted:
                if first <= seq <= end:
                    hashes[seq] = computed[seq - first]
            last_seq, last = end, stored_bytes[-1]
    return last_seq, last.decode(), None


def _contiguous(conn: Connection, after: int) -> int | None:
    """The first sequence number missing after ``after`` (entries are numbered without
    gaps up to the last), or None."""
    count, top = conn.execute(
        sa.text("SELECT count(*), max(seq) FROM audit_log WHERE seq > :a"), {"a": after}
    ).one()
    if top is None or int(count) == int(top) - after:
        return None
    gap = conn.execute(
        sa.text(
            "SELECT min(seq) + 1 FROM audit_log a WHERE seq >= :a AND seq < :top"
            " AND NOT EXISTS (SELECT 1 FROM audit_log b WHERE b.seq = a.seq + 1)"
        ),
        {"a": after, "top": top},
    ).scalar_one()
    return int(gap) if gap is not None else after + 1


def _rows(conn: Connection, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            sa.text(f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY seq"), params
        ).mappings()
    ]


def _stream_rows(conn: Connection, first: int, last: int) -> Iterator[list[dict[str, Any]]]:
    """Whole rows ``first..last`` in batches (the older entries, verified row by row)."""
    start = first
    while start <= last:
        rows = _rows(
            conn,
            "seq >= :a AND seq <= :b",
            {"a": start, "b": min(last, start + BATCH - 1)},
        )
        if not rows:
            return
        yield rows
        start = rows[-1]["seq"] + 1


def columns_mismatch(conn: Connection, after: int, upto: int) -> int | None:
    """The first ``jcs-sha256`` entry after ``after`` whose readable columns differ from
    its canonical bytes. The database rebuilds each row's JCS text from the columns
    (strings quoted by its JSON functions) and compares; a row it flags is looked at
    precisely (``_columns_match``), so a string its quoting writes differently from
    RFC 8785 is not mistaken for a change."""
    if conn.dialect.name == "postgresql":
        quoted = "to_json({0})::text"
        rebuilt = "convert_to({0}, 'UTF8')"
    else:
        quoted = "json_quote({0})"
        rebuilt = "CAST({0} AS BLOB)"

    def q(column: str) -> str:
        return f"COALESCE({quoted.format(column)}, 'null')"

    text = (
        "'{\"action\":' || " + q("action") + " || ',\"actor\":' || " + q("actor")
        + " || ',\"details\":' || details || ',\"entry_id\":' || " + q("entry_id")
        + " || ',\"exchange_id\":' || " + q("exchange_id")
        + " || ',\"hash_alg\":' || " + q("hash_alg")
        + " || ',\"recipient\":' || " + q("recipient")
        + " || ',\"recorded_at\":' || " + q("recorded_at") + " || '}'"
    )  # fmt: skip
    sql = (
        f"SELECT {_COLUMNS} FROM audit_log WHERE seq > :after AND seq <= :upto AND"
        f" (canonical IS NULL OR canonical <> {rebuilt.format(text)}) ORDER BY seq"
    )
    for row in conn.execute(sa.text(sql), {"after": after, "upto": upto}).mappings():
        if not _columns_match(dict(row)):
            return int(row["seq"])
    return None


def _columns_match(row: dict[str, Any]) -> bool:
    """The readable columns say what ``canonical`` says (parsed, compared)."""
    if row["canonical"] is None or row["hash_alg"] != JCS:
        return False
    try:
        entry = json.loads(bytes(row["canonical"]))
        details = json.loads(row["details"])
    except ValueError:
        return False
    names = ("action", "actor", "entry_id", "exchange_id", "hash_alg", "recipient", "recorded_at")
    return (
        isinstance(entry, dict)
        and set(entry) == {*names, "details"}
        and all(entry[n] == row[n] for n in names)
        and entry["details"] == details
        # the column is the member's exact text, as written
        and f',"details":{row["details"]},"entry_id":'.encode() in bytes(row["canonical"])
    )


def verify_chain(
    conn: Connection,
    *,
    starts: dict[int, str] | None = None,
    wanted: set[int] | None = None,
    head: dict[str, Any] | None = None,
    resume: tuple[int, str] | None = None,
) -> VerifyReport:
    """Verify the entries in the store from the first kept one.

    ``starts`` maps a first sequence number to the hash its entry must link to
    (entry 1 to the genesis hash; an anchor checkpoint adds where a pruned log
    begins). ``wanted``: sequence numbers whose computed hash to report (the
    checkpoints'). ``head``: the head row, which the last entry must match.
    ``resume``: (seq, hash) of an entry already verified: verify only after it."""
    starts = {1: GENESIS, **(starts or {})}
    wanted = wanted or set()
    if resume is not None:
        bounds = conn.execute(
            sa.text("SELECT :a + 1, max(seq) FROM audit_log WHERE seq > :a"), {"a": resume[0]}
        ).one()
        if bounds[1] is None:
            if head is not None and head["seq"] != resume[0]:
                return VerifyReport(0, head_finding(resume[0], head), first_seq=resume[0] + 1)
            return VerifyReport(0, None, first_seq=resume[0] + 1, last_seq=resume[0])
        starts = {resume[0] + 1: resume[1]}
    else:
        bounds = conn.execute(sa.text("SELECT min(seq), max(seq) FROM audit_log")).one()
    if bounds[0] is None:
        return VerifyReport(0, None, first_seq=min(starts), last_seq=0)
    first, last = int(bounds[0]), int(bounds[1])
    start_prev = starts.get(first)
    if start_prev is None:
        known = max((s for s in starts if s < first), default=1)
        return VerifyReport(
            0,
            Finding(
                known,
                None,
                "removed",
                f"entries {known} to {first - 1} were removed: the log starts at entry "
                f"{first} and no checkpoint anchors it there",
            ),
            first_seq=first,
        )
    hashes: dict[int, str] = {}
    algorithms: dict[str, int] = {}
    # Older entries come first: up to the first jcs-sha256 one (found walking the
    # key from the start, not scanning the log). Every entry after it must be one too.
    first_jcs = conn.execute(
        sa.text(
            "SELECT seq FROM audit_log WHERE seq >= :f AND hash_alg = :jcs ORDER BY seq LIMIT 1"
        ),
        {"f": first, "jcs": JCS},
    ).scalar()
    older = (last if first_jcs is None else int(first_jcs) - 1) if first <= last else None
    if older is not None and older < first:
        older = None
    prev, done, count = start_prev, first - 1, 0
    if older is not None:
        for rows in _stream_rows(conn, first, int(older)):
            report = verify_rows(rows, start_seq=done + 1, start_prev=prev)
            if not report.ok:
                return VerifyReport(count + report.entries, report.finding, algorithms, first)
            for row in rows:
                if row["seq"] in wanted:
                    hashes[row["seq"]] = row["hash"]
            for alg, n in report.algorithms.items():
                algorithms[alg] = algorithms.get(alg, 0) + n
            count += len(rows)
            done, prev = rows[-1]["seq"], rows[-1]["hash"]
    # The columns-against-bytes check runs in the database meanwhile, on a connection of
    # its own (the GIL is released while it does): on two idle cores the two overlap
    # (a million entries: 3.1 s against 5.1 s one after the other).
    columns = _in_background(conn, columns_mismatch, done, last)
    try:
        last_seq, last_hash, broke = hash_pass(conn, done, prev, wanted, hashes)
    except BaseException:
        columns.exception()  # let it finish before the connection goes
        raise
    if broke is not None:
        columns.exception()
        return VerifyReport(
            count + last_seq - done, _name_break(conn, last_seq, last_hash), algorithms, first
        )
    gap = _contiguous(conn, done)
    if gap is not None:  # the rest re-hashed over the hole: the numbers still show it
        columns.exception()
        return VerifyReport(
            count,
            Finding(gap, None, "removed", f"entry {gap} was removed: the numbering skips it"),
            algorithms,
            first,
        )
    if last_seq > done:
        algorithms[JCS] = algorithms.get(JCS, 0) + last_seq - done
    count += last_seq - done
    mismatch = columns.result()
    if mismatch is not None:
        row = _rows(conn, "seq = :s", {"s": mismatch})[0]
        return VerifyReport(
            count,
            Finding(
                mismatch,
                row["entry_id"],
                "changed",
                f"entry {mismatch} was changed: its columns no longer say what its "
                "hashed canonical bytes say",
            ),
            algorithms,
            first,
        )
    if last_seq != last:  # cannot be: contiguous from first, read to the end
        return VerifyReport(count, head_finding(last_seq, {"seq": last}), algorithms, first)
    if head is not None and (head["seq"], head["hash"]) != (last_seq, last_hash):
        return VerifyReport(count, head_finding(last_seq, head), algorithms, first)
    return VerifyReport(count, None, algorithms, first, last_seq, hashes)


def _name_break(conn: Connection, verified_seq: int, verified_hash: str) -> Finding:
    """The fast pass found a batch that does not hold together after ``verified_seq``:
    read the whole rows from there and name the first bad entry."""
    rows = _rows(
        conn,
        "seq > :a AND seq <= :b",
        {"a": verified_seq, "b": verified_seq + 2 * BATCH},
    )
    if not rows:
        return Finding(verified_seq + 1, None, "removed", "the entries after it were removed")
    report = verify_rows(rows, start_seq=verified_seq + 1, start_prev=verified_hash)
    if report.finding is not None:
        return report.finding
    return Finding(  # the rows hold together read whole: a row without canonical bytes
        rows[0]["seq"], rows[0]["entry_id"], "changed", f"entry {rows[0]['seq']} was changed"
    )


_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_reading: weakref.WeakSet[Engine] = weakref.WeakSet()


def _on_disk_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def _in_background(
    conn: Connection, check: Callable[[Connection, int, int], int | None], after: int, upto: int
) -> Future[int | None]:
    """``check(connection, after, upto)`` on a connection of its own, in a thread; on a
    store only one connection can see (SQLite in memory), here and now."""
    done: Future[int | None] = Future()
    if conn.dialect.name == "sqlite" and not _on_disk_sqlite(conn.engine):
        done.set_result(check(conn, after, upto))
        return done
    # On SQLite a reading connection: one taking the store's write lock would wait for
    # the caller's own transaction (a checkpoint holds it while it checks).
    engine = _reader(conn.engine) if _on_disk_sqlite(conn.engine) else conn.engine

    def run() -> None:
        try:
            with engine.connect() as own:
                done.set_result(check(own, after, upto))
        except BaseException as exc:
            done.set_exception(exc)

    threading.Thread(target=run, name="audit-verify-columns", daemon=True).start()
    return done


def _reader(engine: Engine) -> Engine:
    """For SQLite, an engine whose transactions only read: ``BEGIN`` (deferred), a
    snapshot without the write lock the store's own transactions take up front, so
    verifying a large trail never holds the gateway's writers back."""
    if engine in _reading:
        return engine
    reader = _readers.get(engine)
    if reader is None:
        reader = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)

        @sa.event.listens_for(reader, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(reader, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        _readers[engine] = reader
        _reading.add(reader)
    return reader


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one state of the store, so entries appended
    while it reads (the gateway keeps running) do not look like a broken head, and
    which never blocks the gateway's writers: on PostgreSQL a REPEATABLE READ
    transaction, on SQLite a deferred one (``_reader``)."""
    if _on_disk_sqlite(engine):
        engine = _reader(engine)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def head_row(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    return {"seq": row[0], "hash": row[1]} if row else None


def verify_engine(engine: Engine) -> VerifyReport:
    """The chain alone (no checkpoints): ``gateway.audit.checkpoints.verify_store`` adds
    them, with the keys."""
    with snapshot(engine) as conn:
        head = head_row(conn)
        report = verify_chain(conn, head=head)
    if report.ok and report.entries == 0 and head is not None and head["seq"] > 0:
        return VerifyReport(
            0,
            Finding(
                1,
                None,
                "removed",
                f"the audit log is empty but its head records entry {head['seq']}: "
                "every entry was removed",
            ),
        )
    return report
