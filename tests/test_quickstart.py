"""The README quick start, command for command, on the embedded default.

`gateway serve` starts its own SQLite store and broker; `gateway token` gives the
sample police client's access token; `curl` posts the sample with it;
`gateway messages` shows what the permitted recipient received; `gateway audit
verify` checks the chain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import api_port, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "gateway"), *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=60,
        check=False,
    )


def test_quickstart_as_written(tmp_path):
    port = api_port()
    data_dir = tmp_path / "data"
    server = subprocess.Popen(
        [str(BIN / "gateway"), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", server)

        issued = _run(["token", "cheshire-police"], data_dir)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()

        curl = shutil.which("curl")
        assert curl, "curl is needed for the quick start"
        posted = subprocess.run(
            [
                curl,
                "-s",
                "-X",
                "POST",
                f"http://127.0.0.1:{port}/v1/inbound/police",
                "-H",
                f"Authorization: Bearer {token}",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@examples/police/stalking-crime.json",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
            check=True,
        )
        answer = json.loads(posted.stdout)
        exchange_id = answer["exchange_id"]

        for _ in range(20):
            shown = _run(["messages", "probation-spoc-north"], data_dir)
            assert shown.returncode == 0, shown.stderr
            if exchange_id in shown.stdout:
                break
            time.sleep(0.5)
        (line,) = [x for x in shown.stdout.splitlines() if exchange_id in x]
        record = json.loads(line)["value"]["record"]
        assert "summary" not in record["payload"]["crime"]

        verified = _run(["audit", "verify"], data_dir)
        assert verified.returncode == 0, verified.stderr
        assert "audit chain intact" in verified.stdout
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "gateway ready" in output
    assert f"http://127.0.0.1:{port}/v1/inbound/" in output
    # The embedded broker is stopped with the gateway.
    assert not (data_dir / "runtime.json").exists()
