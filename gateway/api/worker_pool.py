"""``serve --workers N``: N API processes, each listening on its own socket.

Why not uvicorn's own ``--workers``: there every worker accepts from one shared
listening socket, and asyncio accepts every queued connection at once, so the
first worker to wake takes nearly all of a burst of new connections. Partner
systems keep their connections open, so one process ends up serving almost
all the traffic while the others idle. Here each worker binds the port with
``SO_REUSEPORT`` and the kernel spreads new connections across the workers.

This process supervises: a worker that dies is started again, and SIGINT or
SIGTERM stops them all (each finishes its requests in flight first).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess

from gateway.api.slow_clients import HEADER_SECONDS
from gateway.errors import WorkersFailed

log = logging.getLogger(__name__)

#: The app factory each worker calls.
WORKER_APP = "gateway.api.worker_app:app_from_environment"
#: A worker that exits this soon after starting is failing, not crashing.
QUICK_EXIT_SECONDS = 5.0
RESTARTS_ALLOWED = 5
STOP_GRACE_SECONDS = 30.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` that other workers may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets whose proto is IPPROTO_TCP, and accepted sockets inherit it. With
    # proto 0 every response waits out the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, log_level: str, header_seconds: float) -> None:
    """One API process: its own listening socket, uvicorn serving the gateway app."""
    import uvicorn

    from gateway.api.slow_clients import uvicorn_options

    sock = listening_socket(host, port)
    config = uvicorn.Config(
        WORKER_APP, factory=True, log_level=log_level, **uvicorn_options(header_seconds)
    )
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(
    host: str,
    port: int,
    workers: int,
    log_level: str = "warning",
    header_seconds: float = HEADER_SECONDS,
) -> None:
    """Run ``workers`` API processes on ``host:port`` until SIGINT or SIGTERM."""
    if port == 0:
        raise WorkersFailed("--workers needs a fixed --port: each worker binds the same port")
    try:
        listening_socket(host, port).close()  # fail now, in one place, if the port is taken
    except OSError as exc:
        raise WorkersFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    context = multiprocessing.get_context("spawn")

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker,
            args=(host, port, log_level, header_seconds),
            name=f"gateway-api-{index}",
        )
        process.start()
        return process

    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    processes = [start(i) for i in range(workers)]
    started = [time.monotonic()] * workers
    restarts = 0
    try:
        while not stopping.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                quick = time.monotonic() - started[index] < QUICK_EXIT_SECONDS
                restarts += 1
                if quick or restarts > RESTARTS_ALLOWED:
                    raise WorkersFailed(
                        f"API worker {index} exited with code {process.exitcode}"
                        + (" right after starting" if quick else f" ({restarts} restarts)")
                        + "; its log above says why"
                    )
                log.warning(
                    "API worker %d exited (code %s); starting it again", index, process.exitcode
                )
                processes[index] = start(index)
                started[index] = time.monotonic()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(processes)


def _stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes requests in flight
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
