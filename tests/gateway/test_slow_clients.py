"""A client that trickles its request's headers is cut off; a normal one is served,
and so is a kept-alive connection that waits between requests."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.api.slow_clients import uvicorn_options
from gateway.embedded.broker import free_port

DEADLINE = 0.5


def _server():
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options(DEADLINE)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, port


def test_headers_trickled_slower_than_the_deadline_are_cut_off():
    server, thread, port = _server()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            started = time.monotonic()
            closed = False
            for byte in b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                sock.settimeout(0.05)
                try:
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
                except ConnectionResetError:  # closed with our bytes unread: a reset
                    closed = True
                    break
            assert closed, "the server kept a trickling connection open"
            assert DEADLINE <= time.monotonic() - started < DEADLINE + 3
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/ping").json() == {"pong": "yes"}
            time.sleep(DEADLINE * 1.5)  # idle between requests is not a slow header
            assert client.get("/ping").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
