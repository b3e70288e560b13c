"""SQLite writers queue on one lock across processes (``WriterLock``), not in SQLite's naps."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from gateway.store import Store

HOLDER = """
import sys, time
from gateway.store import Store
store = Store.from_url(sys.argv[1])
with store.transaction() as conn:
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _store_held_by_another_process(
    tmp_path: Path, seconds: float
) -> tuple[Store, subprocess.Popen[str]]:
    """A migrated SQLite store, and a process that holds its write lock for ``seconds``."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    store = Store.from_url(url)
    store.upgrade()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return store, holder


def test_a_second_process_waits_for_the_writer_lock(tmp_path: Path) -> None:
    store, holder = _store_held_by_another_process(tmp_path, seconds=1.0)
    try:
        started = time.monotonic()
        with store.transaction() as conn:
            waited = time.monotonic() - started
            conn.execute(sa.text("SELECT 1"))
        assert holder.wait(timeout=10) == 0
    finally:
        holder.kill()
    assert waited >= 0.5, f"entered after {waited:.2f} s while another process held the lock"
    assert waited < 5
    assert (tmp_path / "gateway.db.writer-lock").exists()


def test_in_memory_store_writes_without_a_lock_file() -> None:
    store = Store.from_url("sqlite://")
    with store.transaction() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    with store.transaction() as conn:
        assert conn.execute(sa.text("SELECT x FROM t")).scalar_one() == 1
