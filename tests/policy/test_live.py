"""Live reload: a change goes live only when it lints and its policy tests pass."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from gateway.errors import PolicyLoadError
from gateway.policy.live import LivePolicy
from tests.policy.helpers import copy_agreement, edit


@pytest.fixture
def live(tmp_path):
    policy = copy_agreement(tmp_path)
    return policy, LivePolicy(policy)


def test_nothing_changed_nothing_reloaded(live):
    _, policy = live
    version = policy.current.version
    assert policy.check() is False
    assert policy.current.version == version
    status = policy.status()
    assert status["last_error"] is None and status["rejected_reloads"] == 0
    json.dumps(status)


def test_a_good_change_goes_live(live):
    directory, policy = live
    before = policy.current.version
    edit(directory / "flows.yaml", "short summary to build", "brief summary to build")
    assert policy.check() is True
    assert policy.current.version != before
    assert policy.status()["reloads"] == 1


def test_a_change_that_fails_its_policy_tests_is_refused(live):
    directory, policy = live
    before = policy.current.version
    edit(directory / "agreement.yaml", "areas: [Warrington, Halton]", "areas: [Halton]")
    assert policy.check() is False
    assert policy.current.version == before
    assert policy.rejected_reloads == 1
    assert "policy tests failed" in policy.status()["last_error"]
    assert policy.check() is False and policy.rejected_reloads == 1  # counted once per change


def test_a_change_that_does_not_lint_is_refused_with_the_reason(live):
    directory, policy = live
    edit(directory / "prohibitions.yaml", "to_tags: [victim-services]", "to_tags: [nobody]")
    assert policy.check() is False
    assert "lint failed" in policy.last_error and "protects nothing" in policy.last_error


def test_broken_yaml_is_refused_and_fixing_it_recovers(live):
    directory, policy = live
    before = policy.current.version
    flows = directory / "flows.yaml"
    good = flows.read_text()
    flows.write_text(good.replace("    from: cheshire-police\n", "    from: [cheshire-police\n", 1))
    assert policy.check() is False
    assert "flows.yaml:" in policy.last_error
    flows.write_text(good)
    assert policy.check() is False  # back to the version in force: nothing to reload
    assert policy.last_error is None and policy.current.version == before


def test_a_failing_policy_test_added_on_its_own_is_refused(live):
    directory, policy = live
    edit(directory / "tests" / "alerts.yaml", "rules: [threat-alerts-to-police]", "rules: [nope]")
    assert policy.check() is False
    assert "expected ['nope']" in policy.last_error


def test_a_bundle_that_never_loaded_is_an_error_at_start(tmp_path):
    directory = copy_agreement(tmp_path)
    edit(directory / "flows.yaml", "lawful_basis: dpa-part3-law-enforcement", "lawful_basis: x")
    with pytest.raises(PolicyLoadError, match="does not load"):
        LivePolicy(directory)


def test_watch_reloads_in_the_background_and_stops(live):
    directory, policy = live
    before = policy()
    stop = threading.Event()
    thread = threading.Thread(target=policy.watch, args=(stop, 0.05), daemon=True)
    thread.start()
    edit(directory / "flows.yaml", "short summary to build", "brief summary to build")
    deadline = time.monotonic() + 10
    while policy().version == before.version and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert policy.current.version != before.version


def test_a_change_is_handed_to_on_change_before_it_takes_effect(live):
    """What the audit trail records: versions before and after, the files that differ."""
    directory, policy = live
    before = policy.current
    seen = []

    def record(change):
        assert policy.current is before  # not in force until recorded
        seen.append(change)

    policy.on_change = record
    edit(directory / "flows.yaml", "short summary to build", "brief summary to build")
    shutil.copy(directory / "tests" / "alerts.yaml", directory / "tests" / "alerts-copy.yaml")
    (directory / "tests" / "alerts.yaml").unlink()
    assert policy.check() is True
    (change,) = seen
    assert (change.before, change.after) == (before, policy.current)
    assert (change.added, change.removed, change.modified) == (
        ("tests/alerts-copy.yaml",),
        ("tests/alerts.yaml",),
        ("flows.yaml",),
    )
    entry = change.audit_entry()
    assert entry.action == "policy-change"
    assert entry.details["before"]["version"] == before.version
    assert entry.details["after"]["version"] == policy.current.version != before.version
    assert entry.details["files_modified"] == ["flows.yaml"]
    assert "brief summary" not in entry.details_json  # names, never contents


def test_a_change_that_cannot_be_recorded_waits_and_is_taken_up_later(live):
    directory, policy = live
    before = policy.current.version
    failing = [RuntimeError("store unavailable")]

    def record(change):
        if failing:
            raise failing.pop()

    policy.on_change = record
    edit(directory / "flows.yaml", "short summary to build", "brief summary to build")
    assert policy.check() is False
    assert policy.current.version == before
    assert "could not be audited: store unavailable" in policy.last_error
    assert policy.check() is True  # tried again at the next check
    assert policy.current.version != before and policy.last_error is None


def test_only_a_new_version_is_a_change(live):
    """A policy test edited alone leaves the bundle in force as it was: nothing to record."""
    directory, policy = live
    seen = []
    policy.on_change = seen.append
    path = directory / "tests" / "alerts.yaml"
    path.write_text(path.read_text() + "\n# reviewed\n")
    assert policy.check() is False
    assert seen == []


@pytest.fixture
def live_with_routes(tmp_path):
    from gateway.routing.live import RoutesBeside

    policy = copy_agreement(tmp_path)
    changes = []
    live = LivePolicy(policy, on_change=changes.append, companion=RoutesBeside(policy / "routes"))
    return policy, live, changes


def test_changed_routes_are_taken_up_with_the_policy_and_audited(live_with_routes):
    directory, policy, changes = live_with_routes
    before = policy.beside
    assert before.desk("crisis-line-manager").staff == ("crisis-manager@cwp.example",)
    edit(directory / "routes" / "routes.yaml", "crisis-manager@cwp.example", "duty@cwp.example")
    assert policy.check() is True
    assert policy.beside.desk("crisis-line-manager").staff == ("duty@cwp.example",)
    assert policy.current.version == changes[0].before.version  # the policy itself unchanged
    entry = changes[0].audit_entry()
    assert entry.details["files_modified"] == ["routes/routes.yaml"]
    assert entry.details["before"]["routes_version"] == before.version
    assert entry.details["after"]["routes_version"] == policy.beside.version != before.version
    assert policy.status()["routes_version"] == policy.beside.version


def test_routes_that_fail_their_routing_tests_are_refused_and_the_old_ones_kept(
    live_with_routes,
):
    directory, policy, changes = live_with_routes
    before = policy.beside
    edit(directory / "routes" / "routes.yaml", "id: crisis-line-manager", "id: crisis-line-boss")
    assert policy.check() is False
    assert policy.beside is before and changes == []
    assert policy.rejected_reloads == 1
    assert "routes" in policy.status()["last_error"]


def test_routes_naming_a_party_the_agreement_lacks_are_refused(live_with_routes):
    directory, policy, changes = live_with_routes
    version, before = policy.current.version, policy.beside
    edit(directory / "routes" / "routes.yaml", "party: nhs-crisis-line", "party: no-such-party")
    assert policy.check() is False
    assert policy.current.version == version and policy.beside is before and changes == []
    assert "routes lint failed" in policy.status()["last_error"]
