"""Verifying the audit chain, independently of the code that writes it.

This module shares no code with ``gateway.audit.chain``: it reads the rows
with plain SQL and recomputes each hash from the documented rule

    hash = hex(SHA-256(prev_hash + canonical_json(entry)))

where ``entry`` holds every column except ``seq`` and ``hash`` and canonical
JSON has sorted keys, no spaces, UTF-8. Each entry names its algorithm
(``hash_alg``): under ``sha256`` the ``details`` column is parsed as JSON first;
under ``sha256-text`` it is hashed as the stored text. So a bug in the writer
cannot hide itself from the verifier.

It names the first bad entry and what happened to it:

- *changed*: an entry's hash does not match its contents, or its hash was
  recomputed and the next entry still links to the original;
- *removed*: a sequence number is missing, or a link points at nothing;
- *inserted*: an entry sits between two entries that link to each other;
- *reordered*: an entry links to an entry that comes after it.

Cutting off the newest entries (and rewriting the head row to match) leaves a
valid shorter chain; signed checkpoints, a later capability, catch that.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: hash_alg -> (hash function, whether ``details`` is hashed as its stored text)
_ALGORITHMS = {"sha256": (hashlib.sha256, False), "sha256-text": (hashlib.sha256, True)}
_GENESIS = "0" * 64


@dataclass(frozen=True)
class Finding:
    seq: int
    entry_id: str | None
    kind: str  # changed | removed | inserted | reordered | unknown-algorithm
    message: str


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    finding: Finding | None
    #: The hash algorithms the verified entries name, each with how many use it, in
    #: the order the chain took them up.
    algorithms: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.finding is None


def _recompute(row: dict[str, Any]) -> str | None:
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


def verify_rows(rows: list[dict[str, Any]], head: dict[str, Any] | None = None) -> VerifyReport:
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
            if row["seq"] != 1:
                return VerifyReport(
                    i,
                    Finding(
                        1, None, "removed", f"entry 1 was removed: the chain starts at {row['seq']}"
                    ),
                )
            if row["prev_hash"] != _GENESIS:
                return VerifyReport(i, _diagnose_first(rows))
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
    if (
        head is not None
        and rows
        and (head["seq"], head["hash"]) != (rows[-1]["seq"], rows[-1]["hash"])
    ):
        return VerifyReport(
            len(rows),
            Finding(
                rows[-1]["seq"] + 1,
                None,
                "removed",
                f"the chain ends at entry {rows[-1]['seq']} but its head records entry "
                f"{head['seq']}: the newest entries were removed",
            ),
        )
    return VerifyReport(len(rows), None, dict(Counter(row["hash_alg"] for row in rows)))


def _diagnose_first(rows: list[dict[str, Any]]) -> Finding:
    row = rows[0]
    later = next((r for r in rows[1:] if r["hash"] == row["prev_hash"]), None)
    if later is not None:
        return Finding(
            row["seq"],
            row["entry_id"],
            "reordered",
            f"entry {row['seq']} is out of order: it was written after entry {later['seq']}",
        )
    return Finding(
        row["seq"], row["entry_id"], "changed", f"entry {row['seq']} does not start the chain"
    )


def verify_engine(engine: Engine) -> VerifyReport:
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.text(
                    "SELECT seq, entry_id, recorded_at, action, actor, recipient, exchange_id,"
                    " details, hash_alg, prev_hash, hash FROM audit_log ORDER BY seq"
                )
            ).mappings()
        ]
        head_row = conn.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    head = {"seq": head_row[0], "hash": head_row[1]} if head_row else None
    return verify_rows(rows, head)
