"""``gateway routes``, run as the lead runs it: exit codes and plain messages."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from gateway.cli import app
from tests.routing.conftest import CHESHIRE, ROOT, alert

runner = CliRunner()


def run(*args: object):
    result = runner.invoke(app, ["routes", *(str(a) for a in args)])
    assert "Traceback" not in result.stdout + result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result


def copy_agreement(tmp_path):
    target = tmp_path / "cheshire-hru"
    shutil.copytree(CHESHIRE, target)
    return target


def test_lint_and_test_pass_on_the_samples():
    lint = run("lint", ROOT / "policies")
    assert lint.exit_code == 0, lint.stdout
    assert "cheshire-hru/routes: ok, 0 warning(s)" in lint.stdout
    assert "west-midlands-easi/routes: ok" in lint.stdout
    test = run("test", ROOT / "policies")
    assert test.exit_code == 0, test.stdout
    assert "34 passed, 0 failed, 0 errors" in test.stdout


def test_lint_exits_1_with_findings(tmp_path):
    policy = copy_agreement(tmp_path)
    path = policy / "routes" / "routes.yaml"
    text = path.read_text()
    path.write_text(
        text.replace("        - desk: hru-inspector\n", "        - desk: hru-duty\n", 1)
    )
    result = run("lint", policy)
    assert result.exit_code == 1
    assert "1 error(s)" in result.stdout
    assert "the in_hours chain escalates to hru-duty again" in result.stdout


def test_a_route_that_does_not_load_is_a_lint_error_with_its_line(tmp_path):
    policy = copy_agreement(tmp_path)
    path = policy / "routes" / "routes.yaml"
    path.write_text(path.read_text().replace('monday-friday: "08:00-16:00"', "mon-fri: 8-4", 1))
    result = run("lint", policy)
    assert result.exit_code == 1
    assert (
        "routes.yaml:17: error: calendars[0].hours.mon-fri: unknown weekday 'mon'" in result.stdout
    )
    test = run("test", policy)
    assert test.exit_code == 2 and "unknown weekday 'mon'" in test.stderr


def test_test_exits_1_and_says_what_failed(tmp_path):
    policy = copy_agreement(tmp_path)
    path = policy / "routes" / "routes.yaml"
    path.write_text(path.read_text().replace("2026-09-14", "2026-09-21", 1))
    result = run("test", policy)
    assert result.exit_code == 1
    assert "FAIL  Cheshire HRU hours and escalation :: The unit's training day" in result.stdout
    assert "in_hours: expected False, got True" in result.stdout


def test_explain_prints_the_chain_with_deadlines(tmp_path):
    record = tmp_path / "record.json"
    record.write_text(alert().model_dump_json())
    result = run(
        "explain",
        CHESHIRE,
        record,
        "--party",
        "cheshire-police",
        "--at",
        "2026-03-30T07:30:00Z",
        "--acknowledge-within",
        "15 minutes",
    )
    assert result.exit_code == 0, result.stderr
    assert "route police-urgent, in hours" in result.stdout
    assert "1. hru-duty (HRU duty detective sergeant; cheshire-police) now" in result.stdout
    assert "2. hru-inspector" in result.stdout
    assert "if not acknowledged by Mon 30 Mar 08:45 BST" in result.stdout


def test_explain_refuses_bad_input_plainly(tmp_path):
    record = tmp_path / "record.json"
    record.write_text(alert().model_dump_json())
    cases = [
        (["--party", "nobody", "--at", "2026-03-30T07:30:00Z"], "unknown party 'nobody'"),
        (["--party", "cheshire-police", "--at", "2026-03-30T07:30"], "needs an offset"),
        (["--party", "cheshire-police", "--at", "tomorrow"], "is not an ISO date-time"),
        (
            ["--party", "cheshire-police", "--acknowledge-within", "soon"],
            "--acknowledge-within: 'soon' is not a period",
        ),
    ]
    for options, message in cases:
        result = run("explain", CHESHIRE, record, *options)
        assert result.exit_code == 2, options
        assert message in result.stderr
    (tmp_path / "bad.json").write_text(json.dumps({"category": "urgent_alert"}))
    result = run("explain", CHESHIRE, tmp_path / "bad.json", "--party", "cheshire-police")
    assert result.exit_code == 2 and "not a canonical exchange" in result.stderr
    result = run("lint", tmp_path / "nowhere")
    assert result.exit_code == 2 and "no such policy directory" in result.stderr
