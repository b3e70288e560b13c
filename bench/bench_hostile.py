"""Memory under hostile uploads: what four 5 MB batches of tiny rows in parallel cost.

The gateway runs as its own process on the embedded default (``gateway serve``
with a fresh data directory: SQLite, the broker as its child). Once it is ready
and has settled, its idle resident memory is read from ``/proc``; then four
clients each POST a body just under ``max_body_bytes`` made of tiny rows
(``a,b`` lines: 1.3 million records in CSV, or as many ``{}`` rows of a
``police-screening/1`` JSON batch with ``--shape json``), all at once, with a
real access token (``gateway token cheshire-police``). The peak is the kernel's
high-water mark (``VmHWM``, reset when idle through ``clear_refs``), checked
against ``VmRSS`` sampled every 2 ms; the broker (not Python, and untouched by
uploads) is left out. Every upload must be refused with 413: ``batch-too-large``
(CSV, counted while it streams) or ``payload-too-large`` (JSON, too many objects
to parse).

Usage::

    .venv/bin/python bench/bench_hostile.py [--shape csv|json] [--uploads 4] [--rounds 3]
        [--keep]

Prints the idle RSS, the peak and the peak over idle (the target: at most
300 MB); exits 1 when an upload is not refused as it should be or the target
is missed. Record the figure in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_delivery import GATEWAY, PARTNER, child, children, wait_ready  # noqa: E402

from gateway.embedded.broker import broker_binary, free_port  # noqa: E402

MAX_BODY = 5 * 1024 * 1024
REFUSAL = {"csv": "413 batch-too-large", "json": "413 payload-too-large"}
TARGET_MB = 300.0
CSV_HEADER = b"occurrence_number,ho_code\n"


def hostile_body(shape: str, size: int = MAX_BODY) -> tuple[bytes, str]:
    """A body just under ``size`` bytes of the smallest rows the shape allows."""
    if shape == "csv":
        return CSV_HEADER + b"a,b\n" * ((size - len(CSV_HEADER)) // 4), "text/csv"
    head = b'{"format":"police-screening/1","search_date":"2026-12-01","rows":['
    rows = (size - len(head) - 2) // 3
    return head + b",".join([b"{}"] * rows) + b"]}", "application/json"


def gateway_pids(serve: int) -> list[int]:
    """The serve process and its descendants, less the broker (another program)."""
    broker = os.path.basename(broker_binary())
    by_parent = children()
    found, todo = [], [serve]
    while todo:
        pid = todo.pop()
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        if exe != broker:
            found.append(pid)
        todo += by_parent.get(pid, [])
    return found


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_mb(pids: list[int], field: str = "VmRSS") -> float:
    return sum(status_kb(pid, field) for pid in pids) / 1024


class Sampler(threading.Thread):
    """The largest total VmRSS seen, sampled every 2 ms."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak, self.done = pids, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mb(self.pids))
            time.sleep(0.002)


def access_token(data_dir: Path, env: dict[str, str]) -> str:
    answer = subprocess.run(
        [str(GATEWAY), "token", PARTNER, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return answer.stdout.strip()


def upload(url: str, body: bytes, headers: dict[str, str], answers: list[str]) -> None:
    try:
        with httpx.Client(timeout=120, trust_env=False) as client:
            response = client.post(url, content=body, headers=headers)
        kind = response.json().get("type", "").rsplit("/", 1)[-1]
        answers.append(f"{response.status_code} {kind}")
    except httpx.HTTPError as exc:
        answers.append(f"error {type(exc).__name__}: {exc}")


def one_round(url: str, pids: list[int], body: bytes, headers: dict[str, str], uploads: int):
    time.sleep(2)  # settle: the first requests' imports and caches are behind us
    idle = rss_mb(pids)
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    sampler = Sampler(pids)
    sampler.start()
    answers: list[str] = []
    clients = [
        threading.Thread(target=upload, args=(url, body, headers, answers)) for _ in range(uploads)
    ]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    time.sleep(0.2)
    sampler.done.set()
    sampler.join()
    peak = max(rss_mb(pids, "VmHWM"), sampler.peak)
    return idle, peak, elapsed, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["csv", "json"], default="csv")
    parser.add_argument("--uploads", type=int, default=4, help="hostile uploads at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the log")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}",
        flush=True,
    )
    body, media_type = hostile_body(args.shape)
    print(f"{args.uploads} uploads at once of {len(body)} bytes ({args.shape})", flush=True)
    worst = 0.0
    failures = 0
    with ExitStack() as stack:
        if args.keep:
            workdir = Path(tempfile.mkdtemp(prefix="isg-bench-"))
            print(f"data dir and log kept in {workdir}", flush=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isg-bench-")))
        data_dir = workdir / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env["GATEWAY_MAX_BODY_BYTES"] = str(MAX_BODY)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = workdir / "gateway.log"
        command = [str(GATEWAY), "serve", "--port", str(port), "--data-dir", str(data_dir)]
        process = stack.enter_context(child(command, env, log))
        wait_ready(f"{base}/healthz", process, log, timeout=120)
        headers = {
            "Content-Type": media_type,
            "Authorization": f"Bearer {access_token(data_dir, env)}",
        }
        url = f"{base}/v1/inbound/police"
        for number in range(1, args.rounds + 1):
            pids = gateway_pids(process.pid)
            idle, peak, elapsed, answers = one_round(url, pids, body, headers, args.uploads)
            over = peak - idle
            worst = max(worst, over)
            refused = answers.count(REFUSAL[args.shape])
            failures += len(answers) - refused
            print(
                f"round {number}: idle {idle:.0f} MB, peak {peak:.0f} MB, over idle "
                f"{over:.0f} MB; {refused}/{args.uploads} refused ({REFUSAL[args.shape]}) in "
                f"{elapsed:.2f} s" + ("" if refused == len(answers) else f"; {answers}"),
                flush=True,
            )
    met = worst <= TARGET_MB
    print(
        f"worst peak over idle: {worst:.0f} MB (target at most {TARGET_MB:.0f} MB: "
        f"{'met' if met else 'MISSED'})"
    )
    return 0 if met and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
