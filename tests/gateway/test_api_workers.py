"""`serve --workers`: each API process listens on its own SO_REUSEPORT socket."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.api.worker_pool import listening_socket, run_workers
from gateway.embedded.broker import free_port
from gateway.errors import WorkersFailed


def test_workers_share_a_port_each_with_its_own_socket():
    port = free_port()
    first = listening_socket("127.0.0.1", port)
    second = listening_socket("127.0.0.1", port)
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
    finally:
        first.close()
        second.close()


def test_answers_are_not_held_back_by_nagles_algorithm():
    """asyncio disables Nagle only on sockets whose proto is TCP; with proto 0 a
    response written in two parts waits ~40 ms for the client's delayed ACK."""

    async def check() -> int:
        sock = listening_socket("127.0.0.1", 0)
        nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            nodelay.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            result = await asyncio.wait_for(nodelay, 5)
            writer.close()
            return result

    assert asyncio.run(check()) != 0


def test_a_port_taken_by_another_program_is_a_plain_error():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(WorkersFailed, match=f"cannot listen on 127.0.0.1:{port}"):
            run_workers("127.0.0.1", port, workers=2)


def test_workers_need_a_fixed_port():
    with pytest.raises(WorkersFailed, match="fixed --port"):
        run_workers("127.0.0.1", 0, workers=2)
