"""Running Debian's ``kcat``, a Kafka client nobody here wrote, against the test broker.

Debian bookworm's kcat links librdkafka 2.0.2, which fails to parse the
ApiVersions v3 reply of the Tansu broker ("Read underflow"). The
``confluent-kafka`` wheel ships a current librdkafka; we point kcat's dynamic
loader at it through a one-file shim directory. kcat itself is unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def _librdkafka_dir(shim_root: Path) -> Path | None:
    try:
        import confluent_kafka
    except ImportError:
        return None
    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    candidates = sorted(libs.glob("librdkafka*.so*"))
    if not candidates:
        return None
    shim = shim_root / "librdkafka-shim"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "librdkafka.so.1"
    if not link.exists():
        link.symlink_to(candidates[0])
    return shim


def kcat(args: list[str], shim_root: Path, timeout: float = 30) -> subprocess.CompletedProcess:
    binary = shutil.which("kcat")
    if binary is None:
        raise RuntimeError("kcat is not installed: scripts/test installs Debian's kcat package")
    env = dict(os.environ)
    shim = _librdkafka_dir(shim_root)
    if shim is not None:
        env["LD_LIBRARY_PATH"] = f"{shim}:{env.get('LD_LIBRARY_PATH', '')}"
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
