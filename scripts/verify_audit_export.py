#!/usr/bin/env python3
"""Check an export of the gateway's audit trail (``gateway audit export --out DIR``)
without the gateway: Python's standard library and the ``cryptography`` package.

    python verify_audit_export.py DIR [--trust KEY_ID ...]

Exit 0: intact. Exit 1: tampered, naming the first bad entry. Exit 2: unreadable.
``--trust`` pins the key ids you obtained from the gateway's operator (GET
/v1/audit/keys); without it the export's own keys.json is trusted, and its key
ids are printed for you to compare. The rules are in docs/audit.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64
CHECKPOINT = "isg-gateway/audit-checkpoint/1"
NAMES = ("action", "actor", "entry_id", "exchange_id", "hash_alg", "recipient", "recorded_at")


class Broken(Exception):
    def __init__(self, seq: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.seq, self.kind = seq, kind


def lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                yield json.loads(line)


def entry_hash(e: dict[str, Any]) -> str:
    """The entry's hash by the rule its hash_alg names."""
    if e["hash_alg"] == "jcs-sha256":
        if e.get("canonical") is None:
            raise Broken(e["seq"], "changed", f"entry {e['seq']} has no canonical bytes")
        body = json.loads(e["canonical"])
        details = json.loads(e["details"])
        if (
            not isinstance(body, dict)
            or set(body) != {*NAMES, "details"}
            or any(body[n] != e[n] for n in NAMES)
            or body["details"] != details
        ):
            raise Broken(e["seq"], "changed", f"entry {e['seq']}'s columns differ from its bytes")
        return hashlib.sha256((e["prev_hash"] + e["canonical"]).encode("utf-8")).hexdigest()
    if e["hash_alg"] not in ("sha256", "sha256-text"):
        raise Broken(e["seq"], "unknown-algorithm", f"entry {e['seq']}: {e['hash_alg']!r}")
    fields = {k: e[k] for k in (*NAMES, "prev_hash")}
    fields["details"] = e["details"] if e["hash_alg"] == "sha256-text" else json.loads(e["details"])
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((e["prev_hash"] + text).encode("utf-8")).hexdigest()


def load_checkpoints(folder: Path, trusted: dict[str, Ed25519PublicKey]) -> list[dict[str, Any]]:
    checkpoints: list[dict[str, Any]] = []
    previous: bytes | None = None
    for record in lines(folder / "checkpoints.jsonl"):
        statement = record["statement"].encode("utf-8")
        fields = json.loads(statement)
        where = fields.get("upto_seq", 0)
        key = trusted.get(fields.get("key_id"))
        if fields.get("type") != CHECKPOINT or key is None:
            raise Broken(where, "checkpoint", f"checkpoint {record.get('id')}: unknown key")
        try:
            key.verify(base64.b64decode(record["signature"]), statement)
        except (InvalidSignature, ValueError):
            raise Broken(where, "checkpoint", f"checkpoint {record.get('id')} is forged") from None
        expected = hashlib.sha256(previous).hexdigest() if previous is not None else None
        if fields.get("previous") != expected:
            raise Broken(where, "checkpoint", f"checkpoint {record.get('id')}: one before removed")
        span = base64.b64decode(record.get("span") or "")
        if record.get("span") and hashlib.sha256(span).hexdigest() == fields.get("span_sha256"):
            fields["recorded_hashes"] = span  # the hashes it covered, as signed
        checkpoints.append(fields)
        previous = statement
    if not checkpoints:
        raise Broken(1, "removed", "the export holds no checkpoint: nothing vouches for it")
    return checkpoints


def first_unlike_recorded(folder: Path, checkpoint: dict[str, Any]) -> int | None:
    """The first entry of the checkpoint's span whose hash is not the one it recorded."""
    span, start = checkpoint.get("recorded_hashes"), checkpoint.get("span_from")
    if span is None or start is None:
        return None
    for e in lines(folder / "entries.jsonl"):
        if start <= e["seq"] <= checkpoint["upto_seq"]:
            i = (e["seq"] - start) * 32
            if span[i : i + 32].hex() != e["hash"]:
                return int(e["seq"])
    return None


def find_later(folder: Path, after: int, wanted: str) -> int | None:
    for e in lines(folder / "entries.jsonl"):
        if e["seq"] > after and e["hash"] == wanted:
            return int(e["seq"])
    return None


def verify(folder: Path, pins: list[str]) -> str:
    published = json.loads((folder / "keys.json").read_text(encoding="utf-8"))["keys"]
    trusted = {
        k["key_id"]: Ed25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"]))
        for k in published
        if not pins or k["key_id"] in pins
    }
    for key_id in trusted:  # a key id is the start of SHA-256 over the key
        raw = base64.b64decode(next(k for k in published if k["key_id"] == key_id)["public_key"])
        if hashlib.sha256(raw).hexdigest()[:16] != key_id:
            raise Broken(0, "checkpoint", f"key {key_id} is not the key it names")
    checkpoints = load_checkpoints(folder, trusted)
    latest = checkpoints[-1]
    starts = {1: GENESIS} | {c["first_seq"]: c["first_prev_hash"] for c in checkpoints}
    signed = {c["upto_seq"]: c["head_hash"] for c in checkpoints}
    prev_seq, prev_hash, first, recent = None, None, None, {}
    matched = 0
    for e in lines(folder / "entries.jsonl"):
        seq = e["seq"]
        if prev_seq is None:
            first = seq
            if seq not in starts:
                raise Broken(min(starts), "removed", f"entries before {seq} were removed")
            if e["prev_hash"] != starts[seq]:
                raise Broken(seq, "changed", f"entry {seq} does not start the log")
        elif seq != prev_seq + 1:
            raise Broken(prev_seq + 1, "removed", f"entry {prev_seq + 1} was removed")
        elif e["prev_hash"] != prev_hash:
            if e["prev_hash"] in recent:
                bad = recent[e["prev_hash"]] + 1
                raise Broken(bad, "inserted", f"entry {bad} was inserted before entry {seq}")
            later = find_later(folder, seq, e["prev_hash"])
            if later is not None:
                raise Broken(seq, "reordered", f"entry {seq} was written after entry {later}")
            raise Broken(prev_seq, "changed", f"entry {prev_seq} was changed and re-hashed")
        if entry_hash(e) != e["hash"]:
            raise Broken(seq, "changed", f"entry {seq} was changed: its hash does not match")
        if seq in signed and signed[seq] != e["hash"]:
            at = next(c for c in checkpoints if c["upto_seq"] == seq)
            named = first_unlike_recorded(folder, at)
            if named is not None:
                raise Broken(
                    named,
                    "changed",
                    f"entry {named} was changed and the chain after it re-hashed: its hash is "
                    "not the one the checkpoint recorded and signed",
                )
            raise Broken(
                matched + 1,
                "changed",
                f"an entry from {matched + 1} to {seq} was changed and the chain re-hashed: "
                f"a checkpoint signed another hash for entry {seq}",
            )
        if seq in signed:
            matched = seq
        recent[e["hash"]] = seq
        if len(recent) > 100_000:
            recent.pop(next(iter(recent)))
        prev_seq, prev_hash = seq, e["hash"]
    last = prev_seq or 0
    if last < latest["upto_seq"] and latest["entries"] > 0:
        gone = max(last + 1, latest["first_seq"])
        raise Broken(gone, "removed", f"entries {gone} to {latest['upto_seq']} were removed")
    if last > latest["upto_seq"]:
        raise Broken(
            latest["upto_seq"] + 1,
            "forged",
            f"entries {latest['upto_seq'] + 1} to {last} are not covered by any checkpoint: "
            "an export ends with one covering every entry, so they were added to the copy",
        )
    checked = check_decisions(folder, first or 1)
    keys = ", ".join(trusted) + ("" if pins else " (from keys.json: compare with the gateway's)")
    return (
        f"audit export intact: {0 if prev_seq is None else last - (first or 1) + 1} entries, "
        f"{len(checkpoints)} checkpoints, {checked} exchanges' decisions; keys {keys}"
    )


def check_decisions(folder: Path, first: int) -> int:
    path = folder / "decisions.jsonl"
    if not path.exists():
        return 0
    stated: dict[str, tuple[int, str]] = {}
    for e in lines(folder / "entries.jsonl"):
        digest = e["exchange_id"] and json.loads(e["details"]).get("decisions_sha256")
        if digest and e["seq"] >= first:
            stated[e["exchange_id"]] = (e["seq"], digest)
    checked = 0
    for row in lines(path):
        seq, digest = stated.get(row["exchange_id"], (0, None))
        if digest is None:
            continue
        checked += 1
        if hashlib.sha256(row["decisions"].encode("utf-8")).hexdigest() != digest:
            raise Broken(seq, "decisions-changed", f"exchange {row['exchange_id']}'s decisions")
    return checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--trust", action="append", default=[], metavar="KEY_ID")
    args = parser.parse_args()
    try:
        print(verify(args.folder, args.trust))
    except Broken as broken:
        print(f"audit export BROKEN at entry {broken.seq} ({broken.kind}): {broken}")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read the export: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
