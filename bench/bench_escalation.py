"""From a passed acknowledgement deadline to the next desk's notification sent.

Clocks are written to a real store (SQLite, or PostgreSQL with
``--database-url``) with deadlines spread over a window; the escalation loop
the gateway runs (``gateway.alerts.escalator.keep_escalating``, checking every
``--interval`` seconds, ``GATEWAY_ESCALATION_CHECK_SECONDS``, by default
0.5 s) takes each step and tells the next desk's people by secure email,
through a real SMTP server on loopback (aiosmtpd). The latency of each is the
time the SMTP server received the email minus the deadline. Usage::

    .venv/bin/python bench/bench_escalation.py [--clocks 200] [--window 20]
        [--interval 1.0] [--database-url postgresql+psycopg:///isg_bench]

Prints p50, p99 and the worst, in milliseconds. Target: p99 at most 2 s.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from gateway.alerts.clock import Step, clock_row  # noqa: E402
from gateway.alerts.escalator import keep_escalating  # noqa: E402
from gateway.alerts.people import tell_the_next_desk  # noqa: E402
from gateway.notify import Channel, Notifier, SmtpEmailChannel  # noqa: E402
from gateway.routing import Desk, Routes  # noqa: E402
from gateway.store import Store  # noqa: E402
from gateway.store.tables import INSERT_CLOCKS, exchanges  # noqa: E402

LINK = re.compile(rb"/inbox/([0-9a-f-]{36})")


class Arrivals:
    """An SMTP handler noting when each clock's email arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        match = LINK.search(envelope.content)
        if match:
            with self.lock:
                self.at[match.group(1).decode()] = now
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_clocks(store: Store, count: int, window: float) -> dict[str, float]:
    """``count`` clocks whose first deadline falls in the next ``window`` seconds;
    clock id -> deadline (epoch seconds)."""
    now = datetime.now(UTC)
    deadlines: dict[str, float] = {}
    steps = [
        Step("duty", "party", timedelta(minutes=15), "duty officer"),
        Step("manager", "party", timedelta(minutes=15), "manager"),
    ]
    with store.transaction() as conn:
        for _ in range(count):
            exchange_id = str(uuid.uuid4())
            conn.execute(
                exchanges.insert().values(
                    exchange_id=exchange_id,
                    source_partner="bench",
                    format="bench",
                    category="urgent_alert",
                    purpose="bench",
                    urgency="immediate",
                    submitted_at=now,
                    policy_version="bench",
                    envelope={},
                )
            )
            row = clock_row(exchange_id, "party", steps, now)
            due = now + timedelta(seconds=2 + random.uniform(0, window))
            row["deadline"] = due
            conn.execute(INSERT_CLOCKS, [row])
            deadlines[row["clock_id"]] = due.timestamp()
    return deadlines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clocks", type=int, default=200)
    parser.add_argument("--window", type=float, default=20.0, help="seconds deadlines spread over")
    parser.add_argument("--interval", type=float, default=0.5, help="escalation check, seconds")
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default a temp SQLite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store.from_url(url)
        store.upgrade()
        arrivals = Arrivals()
        port = free_port()
        smtp = Controller(arrivals, hostname="127.0.0.1", port=port)
        smtp.start()
        stop = threading.Event()
        try:
            channel = SmtpEmailChannel(
                host="127.0.0.1", port=port, sender="isg@bench.example", starttls=False
            )
            notifier = Notifier("https://gateway.example", {Channel.SECURE_EMAIL: channel})
            routes = Routes(
                desks={"manager": Desk("manager", "party", "Duty manager", ("manager@x.example",))}
            )
            deadlines = write_clocks(store, args.clocks, args.window)
            loop = threading.Thread(
                target=keep_escalating,
                args=(
                    store,
                    stop,
                    args.interval,
                    partial(tell_the_next_desk, store, lambda: routes, notifier),
                ),
                daemon=True,
            )
            loop.start()
            give_up = time.time() + args.window + 30
            while len(arrivals.at) < len(deadlines) and time.time() < give_up:
                time.sleep(0.2)
        finally:
            stop.set()
            smtp.stop()
            store.engine.dispose()

    late = sorted((arrivals.at[c] - d) * 1000 for c, d in deadlines.items() if c in arrivals.at)
    if len(late) < len(deadlines):
        print(f"only {len(late)} of {len(deadlines)} notifications arrived")
        return 1
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    print(
        f"deadline -> notification sent ({len(late)} clocks, check every {args.interval} s, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}): "
        f"p50 {statistics.median(late):.0f} ms, p99 {p99:.0f} ms, worst {late[-1]:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
