"""`gateway policy diff` on a small agreement changed one thing at a time.

The agreement is tests/policy/fixtures/diff/base. Each expected report is
written out by hand from what the change means, never produced by the diff.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.policy import policy_app
from gateway.policy import load_bundle
from gateway.policy.engine import decide
from gateway.policy.fields import is_envelope
from gateway.policy.minimise import minimise_for
from gateway.policy.tools.diff import disclosures
from tests.policy.conftest import CHESHIRE, crime_exchange
from tests.policy.helpers import edit

BASE = Path(__file__).parent / "fixtures" / "diff" / "base"
runner = CliRunner()

PROBATION = (
    "from police (crime record), for risk-management, "
    "under DPA 2018 Part 3 s31 [law-enforcement] (flow crime-to-probation)"
)
ADVOCATES = (
    "from police (crime record), for victim-safeguarding, under UK GDPR Art 6(1)(e) [public-task]"
)


def proposed(tmp_path: Path) -> Path:
    target = tmp_path / "proposed"
    shutil.copytree(BASE, target)
    return target


def report(new: Path, *options: str) -> str:
    result = runner.invoke(policy_app, ["diff", str(BASE), str(new), *options])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def body(text: str) -> list[str]:
    """The report without its header (the bundle hashes)."""
    return text.splitlines()[4:]


def test_narrowing_a_section_to_one_field_closes_the_rest_and_opens_nothing(tmp_path):
    new = proposed(tmp_path)
    edit(
        new / "flows.yaml",
        "      - subjects[].name\n      - subjects[].address.postcode",
        "      - subjects[].name.family\n      - subjects[].address.postcode",
    )
    assert body(report(new)) == [
        "What is disclosed: this change opens 0, closes 1 and changes the form of 0 field(s) "
        "for a recipient.",
        "",
        f"- CLOSES: probation no longer receives subjects[].name.given [identity], {PROBATION}",
    ]


def test_widening_opens_the_field_for_the_recipient(tmp_path):
    new = proposed(tmp_path)
    edit(
        new / "flows.yaml",
        "      - payload.crime.status\n",
        "      - payload.crime.status\n      - subjects[].date_of_birth\n",
    )
    assert body(report(new)) == [
        "What is disclosed: this change opens 1, closes 0 and changes the form of 0 field(s) "
        "for a recipient.",
        "",
        "- OPENS: advocates now receives subjects[].date_of_birth [identity] in full, "
        f"{ADVOCATES} (flow crime-to-advocates-always)",
    ]


def test_widening_to_a_perpetrator_facing_party_opens_only_the_perpetrators_address(tmp_path):
    new = proposed(tmp_path)
    edit(new / "flows.yaml", "      - subjects[].address.postcode", "      - subjects[].address")
    assert body(report(new)) == [
        "What is disclosed: this change opens 4, closes 0 and changes the form of 0 field(s) "
        "for a recipient.",
        "",
        "- OPENS: probation now receives subjects[].address.lines[] [location] "
        f"(of an offender, a perpetrator or a suspect only) in full, {PROBATION}",
        "- OPENS: probation now receives subjects[].address.local_authority [location] "
        f"(of an offender, a perpetrator or a suspect only) in full, {PROBATION}",
        "- OPENS: probation now receives subjects[].address.no_fixed_abode [location] "
        f"(of an offender, a perpetrator or a suspect only) in full, {PROBATION}",
        "- OPENS: probation now receives subjects[].address.town [location] "
        f"(of an offender, a perpetrator or a suspect only) in full, {PROBATION}",
    ]


def test_moving_a_field_between_two_flows_of_one_recipient_changes_nothing(tmp_path):
    new = proposed(tmp_path)
    edit(
        new / "flows.yaml",
        "      - subjects[].name\n      - payload.crime.offence.code\n\n",
        "      - subjects[].name\n\n",
    )
    edit(
        new / "flows.yaml",
        "      - payload.crime.status\n",
        "      - payload.crime.status\n      - payload.crime.offence.code\n",
    )
    assert body(report(new)) == ["No change to what is shared, with whom, or on what terms."]


def test_a_new_prohibition_closes_what_it_withholds(tmp_path):
    new = proposed(tmp_path)
    (new / "prohibitions.yaml").write_text(
        "prohibitions:\n"
        "  - id: victim-names-not-to-law-enforcement\n"
        "    description: A victim's name stays with the police.\n"
        "    fields:\n      - subjects[].name\n"
        "    subject_roles: [victim]\n"
        "    to_tags: [law-enforcement]\n",
        encoding="utf-8",
    )
    assert body(report(new)) == [
        "What is disclosed: this change opens 0, closes 2 and changes the form of 0 field(s) "
        "for a recipient.",
        "",
        "- CLOSES: probation no longer receives subjects[].name.family [identity] "
        "(of a victim only), " + PROBATION,
        "- CLOSES: probation no longer receives subjects[].name.given [identity] "
        "(of a victim only), " + PROBATION,
        "",
        "The terms as written: 1 change(s).",
        "",
        "- CLOSES: new prohibition victim-names-not-to-law-enforcement: subjects[].name of "
        "victim subjects never go to parties tagged law-enforcement",
    ]


def test_a_changed_transform_changes_the_form(tmp_path):
    new = proposed(tmp_path)
    edit(
        new / "flows.yaml",
        "      - subjects[].address.postcode\n",
        "      - path: subjects[].address.postcode\n        transform: postcode-district\n",
    )
    assert body(report(new)) == [
        "What is disclosed: this change opens 0, closes 0 and changes the form of 1 field(s) "
        "for a recipient.",
        "",
        "- CHANGES: probation now receives subjects[].address.postcode [location] "
        "(of an offender, a perpetrator or a suspect only) as a postcode district (was in full), "
        f"{PROBATION}",
    ]


def test_free_text_in_full_under_a_flow_without_a_condition_closes_it(tmp_path):
    """Free text may hold health details: a flow naming no special category condition
    does not carry it whole, so untruncating it stops it crossing at all."""
    new = proposed(tmp_path)
    edit(
        new / "flows.yaml",
        "      - path: payload.crime.summary\n        transform: truncate\n"
        "        max_length: 280\n",
        "      - payload.crime.summary\n",
    )
    assert body(report(new)) == [
        "What is disclosed: this change opens 0, closes 1 and changes the form of 0 field(s) "
        "for a recipient.",
        "",
        f"- CLOSES: probation no longer receives payload.crime.summary [offending], {PROBATION}",
    ]


def test_a_deny_flow_closes_everything_the_permits_sent(tmp_path):
    new = proposed(tmp_path)
    with (new / "flows.yaml").open("a", encoding="utf-8") as flows:
        flows.write(
            "\n  - id: nothing-to-advocates\n"
            "    effect: deny\n"
            "    from: police\n"
            "    to: [advocates]\n"
            "    categories: [crime_record]\n"
        )
    assert body(report(new)) == [
        "What is disclosed: this change opens 0, closes 5 and changes the form of 0 field(s) "
        "for a recipient.",
        "",
        "- CLOSES: advocates no longer receives case_reference [case-admin], "
        f"{ADVOCATES} (flows crime-to-advocates, crime-to-advocates-always)",
        "- CLOSES: advocates no longer receives payload.crime.offence.code [offending], "
        f"{ADVOCATES} (flow crime-to-advocates)",
        "- CLOSES: advocates no longer receives payload.crime.status [offending], "
        f"{ADVOCATES} (flow crime-to-advocates-always)",
        "- CLOSES: advocates no longer receives subjects[].name.family [identity], "
        f"{ADVOCATES} (flow crime-to-advocates)",
        "- CLOSES: advocates no longer receives subjects[].name.given [identity], "
        f"{ADVOCATES} (flow crime-to-advocates)",
    ]


def test_a_field_moved_behind_a_permit_that_always_applies_closes(tmp_path):
    """The engine takes the first permit that holds, so a flow after one that
    always holds never decides anything: what only it shares never crosses."""
    new = proposed(tmp_path)
    edit(
        new / "flows.yaml",
        "      - case_reference\n      - payload.crime.status\n",
        "      - case_reference\n      - payload.crime.status\n\n"
        "  - id: crime-to-advocates-too-late\n"
        "    from: police\n"
        "    to: [advocates]\n"
        "    categories: [crime_record]\n"
        "    purposes: [victim-safeguarding]\n"
        "    lawful_basis: public-task\n"
        "    fields:\n"
        "      - subjects[].date_of_birth\n",
    )
    assert body(report(new)) == ["No change to what is shared, with whom, or on what terms."]


def test_json_names_recipient_field_purpose_and_basis(tmp_path):
    new = proposed(tmp_path)
    edit(new / "flows.yaml", "        max_length: 280\n", "        max_length: 100\n")
    out = json.loads(report(new, "--json"))
    assert out["terms"] == []
    [change] = out["disclosures"]
    del change["text"]
    assert change == {
        "direction": "CHANGES",
        "recipient": "probation",
        "sender": "police",
        "category": "crime_record",
        "purposes": ["risk-management"],
        "path": "payload.crime.summary",
        "subject_roles": [],
        "was": {
            "form": "truncated to 280 characters",
            "flows": ["crime-to-probation"],
            "lawful_bases": ["law-enforcement"],
        },
        "now": {
            "form": "truncated to 100 characters",
            "flows": ["crime-to-probation"],
            "lawful_bases": ["law-enforcement"],
        },
    }


def test_what_the_minimiser_discloses_is_what_the_diff_counts():
    """The diff reads the engine's own plans: a real record's disclosed fields are among them."""
    bundle = load_bundle(CHESHIRE)
    table = disclosures(bundle)
    exchange = crime_exchange()
    checked = 0
    for decision in decide(bundle, exchange):
        if not decision.permitted:
            continue
        minimised = minimise_for(decision, exchange.model_dump(mode="json"))
        key = (
            exchange.source_partner,
            str(exchange.category),
            exchange.purpose,
            decision.recipient,
        )
        for path in minimised.disclosed:
            if is_envelope(path):
                continue  # every recipient gets it
            assert any(k[:5] == (*key, path) for k in table), (decision.recipient, path)
            checked += 1
    assert checked


ACTIONS_FLOW = """
  - id: actions-to-probation
    from: police
    to: [probation]
    categories: [meeting_feed]
    purposes: [risk-management]
    lawful_basis: law-enforcement
    fields:
      - payload.meeting.meeting_id
      - payload.meeting.actions[].action_id
"""


def test_sending_each_owner_only_its_actions_is_a_change_of_form(tmp_path):
    """Every action went to probation; now only those it owns do."""
    before = shutil.copytree(BASE, tmp_path / "before")
    after = shutil.copytree(BASE, tmp_path / "after")
    (before / "flows.yaml").write_text((BASE / "flows.yaml").read_text() + ACTIONS_FLOW)
    (after / "flows.yaml").write_text(
        (BASE / "flows.yaml").read_text()
        + ACTIONS_FLOW
        + "    to_owners: {items: payload.meeting.actions}\n"
    )
    result = runner.invoke(policy_app, ["diff", str(before), str(after)])
    assert result.exit_code == 0, result.stderr
    assert body(result.stdout) == [
        "What is disclosed: this change opens 0, closes 0 and changes the form of 1 field(s) "
        "for a recipient.",
        "",
        "- CHANGES: probation now receives payload.meeting.actions[].action_id "
        "in full, only the items it owns (was in full), from police (meeting feed), "
        "for risk-management, under DPA 2018 Part 3 s31 [law-enforcement] "
        "(flow actions-to-probation)",
    ]
