"""A TCP proxy that holds every chunk back by a fixed delay, each way, in order.

What a database on another host adds to each round trip, simulated on loopback
(this machine's kernel has no netem). ``bench_delivery.py --db-latency-ms``
starts it in front of PostgreSQL. Usage::

    python bench/latency_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import sys
import time


async def _forward(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy ``reader`` to ``writer``, each chunk sent ``delay`` seconds after it came."""
    held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def release() -> None:
        while True:
            due, data = await held.get()
            if not data:
                writer.close()
                return
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    releasing = asyncio.create_task(release())
    try:
        while data := await reader.read(65536):
            held.put_nowait((time.monotonic() + delay, data))
    finally:
        held.put_nowait((0.0, b""))
        await releasing


async def _serve(listen_port: int, target: tuple[str, int], delay: float) -> None:
    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        await asyncio.gather(
            _forward(reader, upstream_writer, delay),
            _forward(upstream_reader, writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(connect, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    port, host, target_port, delay_ms = sys.argv[1:5]
    asyncio.run(_serve(int(port), (host, int(target_port)), float(delay_ms) / 1000))
