"""An export checked by the outside script (scripts/verify_audit_export.py, run with the
venv's python as an auditor would, without the gateway): intact, it passes; each way
of tampering with the copy is caught, naming the first bad entry."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditEntry
from gateway.audit.checkpoints import take_checkpoint
from gateway.audit.signing import load_keys
from gateway.store import Store
from gateway.store.audit_log import append, use_sealer
from tests.audit.test_tamper import EXCHANGE, _entry, cli, write_trail
from tests.conftest import STORES

SCRIPT = Path(__file__).parents[2] / "scripts" / "verify_audit_export.py"


def check(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(folder), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def broken_at(folder: Path, seq: int, kind: str) -> str:
    result = check(folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"BROKEN at entry {seq} ({kind})" in result.stdout, result.stdout
    return result.stdout


def read(folder: Path, name: str = "entries.jsonl") -> list[dict]:
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def write(folder: Path, records: list[dict], name: str = "entries.jsonl") -> None:
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def rehash(entries: list[dict], start: int) -> None:
    prev = entries[start - 1]["hash"] if start else "0" * 64
    for e in entries[start:]:
        e["prev_hash"] = prev
        e["hash"] = hashlib.sha256((prev + e["canonical"]).encode()).hexdigest()
        prev = e["hash"]


@pytest.fixture(scope="module", params=STORES)
def exported(request, tmp_path_factory, postgres) -> Path:
    """One export per store kind (8 entries; checkpoints at 6 and, by the export, 8)."""
    tmp = tmp_path_factory.mktemp(f"export-{request.param}")
    url = f"sqlite:///{tmp / 'gateway.db'}" if request.param == "sqlite" else postgres.new()
    store = Store.from_url(url)
    store.upgrade()
    data_dir = tmp / "data"
    keys = load_keys(None, [], data_dir)
    use_sealer(keys.current.seal)
    try:
        write_trail(store)
        take_checkpoint(store, keys)
        with store.transaction() as conn:
            append(conn, [_entry(7), _entry(8)])
    finally:
        use_sealer(None)
        store.engine.dispose()
    out = tmp / "export"

    class Trail:  # what tests.audit.test_tamper.cli reads
        pass

    trail = Trail()
    trail.url, trail.data_dir = url, data_dir
    with pytest.MonkeyPatch.context() as monkeypatch:
        result = cli(trail, monkeypatch, "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 8 entries, 2 checkpoints and 1 public keys" in result.output
    return out


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    folder.mkdir()
    for f in exported.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


def test_an_intact_export_verifies_with_the_key_pinned(copy):
    key_id = json.loads((copy / "keys.json").read_text())["keys"][0]["key_id"]
    result = check(copy, "--trust", key_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact: 8 entries, 2 checkpoints, 1 exchanges' decisions" in result.stdout


def test_a_key_not_pinned_is_not_trusted(copy):
    result = check(copy, "--trust", "0123456789abcdef")
    assert result.returncode == 1
    assert "(checkpoint)" in result.stdout


def test_edit(copy):
    entries = read(copy)
    entries[2]["canonical"] = entries[2]["canonical"].replace('"n":3', '"n":4')
    entries[2]["details"] = entries[2]["details"].replace('"n":3', '"n":4')
    write(copy, entries)
    broken_at(copy, 3, "changed")


def test_edited_column_only(copy):
    entries = read(copy)
    entries[3]["recipient"] = "press-office"
    write(copy, entries)
    broken_at(copy, 4, "changed")


def test_delete(copy):
    entries = read(copy)
    del entries[2]
    write(copy, entries)
    broken_at(copy, 3, "removed")


def test_insert(copy):
    entries = read(copy)
    forged = AuditEntry(action="disclosure", actor="x", details={"forged": True})
    prev = entries[1]["hash"]
    line = {
        **entries[1],
        "entry_id": forged.entry_id,
        "canonical": forged.canonical.decode(),
        "details": forged.details_json,
        "action": "disclosure",
        "actor": "x",
        "recipient": None,
        "exchange_id": None,
        "recorded_at": forged.recorded_at,
        "prev_hash": prev,
        "hash": forged.digest(prev),
    }
    entries.insert(2, line)
    for seq, e in enumerate(entries, start=1):
        e["seq"] = seq
    write(copy, entries)
    broken_at(copy, 3, "inserted")


def test_reorder(copy):
    entries = read(copy)
    entries[2], entries[3] = entries[3], entries[2]
    entries[2]["seq"], entries[3]["seq"] = 3, 4
    write(copy, entries)
    broken_at(copy, 3, "reordered")


def test_rewrite_and_rehash(copy):
    """The copy holds together again; the checkpoint at entry 6 says otherwise, and the
    hashes it recorded (signed by their digest) name the entry, without any key."""
    entries = read(copy)
    body = json.loads(entries[2]["canonical"])
    body["details"]["purpose"] = "curiosity"
    entries[2]["canonical"] = rfc8785.dumps(body).decode()
    entries[2]["details"] = rfc8785.dumps(body["details"]).decode()
    rehash(entries, 2)
    write(copy, entries)
    output = broken_at(copy, 3, "changed")
    assert "not the one the checkpoint recorded" in output


def test_rewrite_and_rehash_with_the_recorded_hashes_removed(copy):
    """Without its span a checkpoint still catches it, naming the entries it covers."""
    checkpoints = read(copy, "checkpoints.jsonl")
    for record in checkpoints:
        record.pop("span")
    write(copy, checkpoints, "checkpoints.jsonl")
    entries = read(copy)
    body = json.loads(entries[2]["canonical"])
    body["details"]["purpose"] = "curiosity"
    entries[2]["canonical"] = rfc8785.dumps(body).decode()
    entries[2]["details"] = rfc8785.dumps(body["details"]).decode()
    rehash(entries, 2)
    write(copy, entries)
    output = broken_at(copy, 1, "changed")
    assert "from 1 to 6" in output


def test_forged_append(copy):
    entries = read(copy)
    forged = AuditEntry(action="disclosure", actor="x", details={"forged": True})
    prev = entries[-1]["hash"]
    entries.append(
        {
            **entries[-1],
            "seq": 9,
            "entry_id": forged.entry_id,
            "canonical": forged.canonical.decode(),
            "details": forged.details_json,
            "action": "disclosure",
            "actor": "x",
            "recipient": None,
            "exchange_id": None,
            "recorded_at": forged.recorded_at,
            "prev_hash": prev,
            "hash": forged.digest(prev),
        }
    )
    write(copy, entries)
    broken_at(copy, 9, "forged")


def test_truncation(copy):
    write(copy, read(copy)[:4])
    broken_at(copy, 5, "removed")


def test_empty_log(copy):
    (copy / "entries.jsonl").write_text("")
    broken_at(copy, 1, "removed")


def test_edited_decisions(copy):
    rows = read(copy, "decisions.jsonl")
    assert [r["exchange_id"] for r in rows] == [EXCHANGE]
    rows[0]["decisions"] = rows[0]["decisions"].replace("permit", "deny")
    write(copy, rows, "decisions.jsonl")
    broken_at(copy, 2, "decisions-changed")


def test_forged_checkpoint(copy):
    """A checkpoint re-signed by a key of the forger's own, listed in keys.json: the
    key id pinned from the gateway gives it away."""
    pinned = json.loads((copy / "keys.json").read_text())["keys"][0]["key_id"]
    impostor = Ed25519PrivateKey.generate()
    raw = impostor.public_key().public_bytes_raw()
    kid = hashlib.sha256(raw).hexdigest()[:16]
    keys = json.loads((copy / "keys.json").read_text())
    keys["keys"].append({"key_id": kid, "public_key": base64.b64encode(raw).decode()})
    (copy / "keys.json").write_text(json.dumps(keys))
    checkpoints = read(copy, "checkpoints.jsonl")
    fields = json.loads(checkpoints[0]["statement"]) | {"key_id": kid, "upto_seq": 4}
    statement = rfc8785.dumps(fields)
    checkpoints[0] |= {
        "statement": statement.decode(),
        "signature": base64.b64encode(impostor.sign(statement)).decode(),
    }
    write(copy, checkpoints, "checkpoints.jsonl")
    result = check(copy, "--trust", pinned)
    assert result.returncode == 1
    assert "(checkpoint)" in result.stdout
