"""``gateway audit export``: a copy of the audit trail an outsider can check.

The directory holds:

- ``entries.jsonl``: one entry a line, every column; ``canonical`` (for
  ``jcs-sha256`` entries) is the RFC 8785 text whose UTF-8 bytes were hashed;
- ``checkpoints.jsonl``: every signed checkpoint (statement text, signature);
- ``keys.json``: the public keys checkpoints are verified with;
- ``decisions.jsonl``: each exchange's stored ``decisions`` text, which the
  last entry stating ``decisions_sha256`` for it must hash to.

A checkpoint is signed first (when entries were appended since the last), so
every exported entry is covered by a signature: an entry found after the last
checkpoint of an export was added to the copy afterwards. Refused if the chain
since the last checkpoint does not hold (``CheckpointRefused``): nothing is
exported over a forged entry. ``scripts/verify_audit_export.py`` checks the
copy with the standard library and ``cryptography`` only. Rows are streamed,
so memory does not grow with the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.audit.checkpoints import (
    CheckpointRefused,
    load_checkpoints,
    load_span,
    take_checkpoint,
)
from gateway.audit.signing import AuditKeys
from gateway.audit.verify import snapshot

FORMAT = "isg-gateway/audit-export/1"


def _streamed(conn: Connection, batch: int, statement: Any, *params: Any) -> Any:
    """Rows read ``batch`` at a time (server-side on PostgreSQL), for this statement only:
    ``Connection.execution_options`` would change the connection for every later one."""
    return conn.execute(statement.execution_options(yield_per=batch), *params)


class ExportError(RuntimeError):
    pass


@dataclass(frozen=True)
class ExportSummary:
    entries: int
    checkpoints: int
    keys: int


def _line(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def export_store(engine: Engine, keys: AuditKeys, out: Path) -> ExportSummary:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory")
    if keys.current is None:
        raise ExportError(
            "no audit signing key is held: an export needs a checkpoint over its entries "
            "(set GATEWAY_AUDIT_SIGNING_KEYS, or run where the data directory's key is)"
        )
    if keys.current is not None:
        try:
            take_checkpoint(engine, keys, "on-demand", only_if_new=True)
        except CheckpointRefused as refused:
            finding = refused.finding
            raise ExportError(
                f"not exported: the chain does not hold at entry {finding.seq} "
                f"({finding.kind}): {finding.message}"
            ) from None
    out.mkdir(parents=True, exist_ok=True)
    published = keys.published()
    (out / "keys.json").write_text(
        json.dumps({"format": FORMAT, "keys": published}, indent=2) + "\n", encoding="utf-8"
    )
    entries = 0
    with snapshot(engine) as conn:
        checkpoints = load_checkpoints(conn)
        with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as file:
            for cp in checkpoints:
                _line(file, cp.as_record(load_span(conn, cp.id)))
        rows = _streamed(
            conn,
            5000,
            sa.text(
                "SELECT seq, entry_id, recorded_at, action, actor, recipient, exchange_id,"
                " details, hash_alg, prev_hash, hash, canonical FROM audit_log ORDER BY seq"
            ),
        )
        with (out / "entries.jsonl").open("w", encoding="utf-8") as file:
            for row in rows.mappings():
                record = dict(row)
                canonical = record.pop("canonical")
                record["canonical"] = (
                    bytes(canonical).decode("utf-8") if canonical is not None else None
                )
                _line(file, record)
                entries += 1
        column = "decisions::text" if conn.dialect.name == "postgresql" else "decisions"
        exchanges = _streamed(
            conn, 5000, sa.text(f"SELECT exchange_id, {column} FROM exchanges ORDER BY exchange_id")
        )
        with (out / "decisions.jsonl").open("w", encoding="utf-8") as file:
            for exchange_id, decisions in exchanges:
                _line(file, {"exchange_id": exchange_id, "decisions": decisions})
    return ExportSummary(entries, len(checkpoints), len(published))
