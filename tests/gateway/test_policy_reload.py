"""The running gateway takes up edited policy files only when they lint and their tests pass."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.audit.verify import verify_engine
from tests.conftest import ROOT, start_gateway

PARTNER = {"Content-Type": "application/json"}


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def reloading_gateway(broker, store_url_factory, tmp_path):
    policy_dir = tmp_path / "policy"
    shutil.copytree(ROOT / "policies" / "cheshire-hru", policy_dir)
    running, server, thread = start_gateway(
        "sqlite",
        store_url_factory("sqlite"),
        broker.bootstrap,
        tmp_path / "d",
        policy_dir=policy_dir,
        policy_check_seconds=0.2,
    )
    yield running, policy_dir
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


def _policy_status(client) -> dict:
    return client.get("/readyz").json()["policy"]


def test_bad_edit_is_refused_good_edit_is_taken_up(reloading_gateway, police_sample):
    gateway, policy_dir = reloading_gateway
    agreement = Path(policy_dir) / "agreement.yaml"
    flows = Path(policy_dir) / "flows.yaml"
    with gateway.client() as client:
        first = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER).json()
        version = first["policy_version"]

        # An edit the policy tests catch: renaming a flow they expect to decide.
        flows.write_text(
            flows.read_text().replace(
                "- id: police-crime-to-probation-spoc",
                "- id: police-crime-to-probation-spoc-renamed",
                1,
            )
        )
        status = wait_for(lambda: (s := _policy_status(client))["last_error"] and s)
        assert status["version"] == version
        assert status["rejected_reloads"] >= 1
        metrics = client.get("/metrics").text
        assert "isg_policy_rejected_reloads_total" in metrics
        still = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER).json()
        assert still["policy_version"] == version  # the last good bundle is still in force

        # Put it right and make a harmless change: the new bundle is taken up.
        flows.write_text(
            flows.read_text().replace(
                "police-crime-to-probation-spoc-renamed", "police-crime-to-probation-spoc", 1
            )
        )
        agreement.write_text(agreement.read_text() + "\n# reviewed by the board\n")
        status = wait_for(lambda: (s := _policy_status(client))["version"] != version and s)
        assert status["last_error"] is None
        after = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER).json()
        assert after["policy_version"] == status["version"] != version

    # The reload is in the audit trail: the versions before and after, the file changed.
    with gateway.store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT details FROM audit_log WHERE action = 'policy-change'")
        ).all()
    (details,) = [json.loads(row.details) for row in rows]
    assert (details["before"]["version"], details["after"]["version"]) == (
        version,
        status["version"],
    )
    assert details["files_modified"] == ["agreement.yaml"]
    assert verify_engine(gateway.store.engine).ok
