"""Lint finds what loads but is wrong, and reports every finding at once."""

from __future__ import annotations

import datetime as dt

from gateway.policy.tools.lint import ERROR, lint
from tests.policy.conftest import CHESHIRE
from tests.policy.helpers import copy_agreement, edit, line_of


def errors(directory) -> list[str]:
    return [str(f) for f in lint(directory).findings if f.severity == ERROR]


def test_the_sample_agreement_is_clean():
    result = lint(CHESHIRE, today=dt.date(2026, 11, 26))
    assert result.ok
    assert [str(f) for f in result.findings] == []


def test_a_condition_value_the_field_never_takes_can_never_match(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "flows.yaml", "        at_least: high", "        at_least: hgh")
    found = errors(policy)
    assert any("police-crime-to-forensic-psychology' can never match" in f for f in found), found


def test_an_enum_typo_in_a_condition_says_what_was_expected(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "flows.yaml", "        equals: suicidal_ideation", "        equals: suicidal")
    (finding,) = errors(policy)
    assert "payload.alert.kind is never 'suicidal'" in finding
    assert "suicidal_ideation" in finding  # the expected values are listed


def test_two_permits_for_the_same_exchange_conflict(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "    categories: [custody_event, disposal, civil_order]\n    purposes: [victim-",
        "    categories: [crime_record, custody_event, disposal, civil_order]\n"
        "    purposes: [victim-",
    )
    found = errors(policy)
    assert any(
        "conflict: flows 'police-orders-to-victim-advocates' and "
        "'police-crime-to-victim-advocates' both permit crime_record from cheshire-police to "
        "victim-advocates for victim-safeguarding; 'police-orders-to-victim-advocates' comes "
        "first and always wins" in f
        for f in found
    ), found


def test_routing_by_area_to_a_party_without_areas_can_never_match(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "agreement.yaml", "    areas: [Cheshire East]\n", "")
    found = errors(policy)
    assert any(
        "can never match: subjects[].address.local_authority is routed by area but "
        "probation-spoc-east declares no areas" in f
        for f in found
    ), found


def test_sharing_a_prohibited_field_is_a_conflict(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "      - payload.health\n",
        "      - payload.health\n      - payload.health.summary\n",
    )
    found = errors(policy)
    assert any(
        "shares payload.health.summary with cheshire-police but prohibition "
        "'therapy-content-never-to-law-enforcement' forbids it" in f
        for f in found
    ), found


def test_an_unconditional_deny_makes_a_permit_unreachable(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "    to: [victim-advocates]\n    categories: [health_information]\n",
        "    to: [cheshire-police]\n    categories: [health_information]\n",
    )
    found = errors(policy)
    assert any(
        "'cwp-engagement-to-police' can never match: the unconditional deny "
        "'health-never-to-victim-advocates' always wins" in f
        for f in found
    ), found


def test_a_transform_that_does_not_fit_its_field(tmp_path):
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    edit(
        flows,
        "      - path: subjects[].address.postcode\n        transform: postcode-district",
        "      - path: subjects[].role\n        transform: age-band",
    )
    found = errors(policy)
    assert any("subjects[].role: age-band needs a date field" in f for f in found), found


def test_a_prohibition_by_a_tag_nobody_has_protects_nothing(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "prohibitions.yaml", "to_tags: [victim-services]", "to_tags: [victim-service]")
    prohibitions = policy / "prohibitions.yaml"
    found = errors(policy)
    assert found == [
        f"prohibitions.yaml:{line_of(prohibitions, 'id: perpetrator-identifiers')}: error: "
        "prohibition 'perpetrator-identifiers-not-to-victim-services' protects nothing: "
        "no party has tag 'victim-service'"
    ]


def test_load_errors_become_findings_with_their_lines(tmp_path):
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    edit(
        flows,
        "    lawful_basis: dpa-part3-law-enforcement\n    when:",
        "    lawful_basis: dpa-part-3\n    when:",
    )
    result = lint(policy)
    assert not result.ok and result.bundle is None
    assert str(result.findings[0]).startswith(f"flows.yaml:{line_of(flows, 'dpa-part-3')}: error:")


def test_an_expired_flow_is_a_warning_not_an_error(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "    obligations:\n      retain_for: 1 year",
        "    valid_until: 2026-01-31\n    obligations:\n      retain_for: 1 year",
    )
    result = lint(policy, today=dt.date(2026, 11, 26))
    assert result.ok
    assert any("expired on 2026-01-31" in str(f) for f in result.findings)


def test_the_west_midlands_agreement_is_clean():
    from tests.policy.conftest import WEST_MIDLANDS

    result = lint(WEST_MIDLANDS, today=dt.date(2026, 11, 26))
    assert result.ok and [str(f) for f in result.findings] == []


def test_a_changed_bundle_that_keeps_its_version_is_a_warning(tmp_path):
    """Decisions name the agreement's version: two different bundles under one version
    would make the trail ambiguous."""
    import shutil
    from pathlib import Path

    from gateway.policy import load_bundle
    from gateway.policy.tools.lint import lint as lint_with

    source = Path(__file__).resolve().parents[2] / "policies" / "cheshire-hru"
    edited = tmp_path / "cheshire-hru"
    shutil.copytree(source, edited)
    before = load_bundle(source)
    flows = edited / "flows.yaml"
    flows.write_text(flows.read_text() + "\n# a comment changes the bundle's hash\n")
    kept = [f.message for f in lint_with(edited, previous=before).findings]
    assert any("version is still" in m for m in kept)
    agreement = edited / "agreement.yaml"
    version = f'version: "{before.agreement_version}"'
    agreement.write_text(agreement.read_text().replace(version, 'version: "raised"'))
    raised = [f.message for f in lint_with(edited, previous=before).findings]
    assert not any("version is still" in m for m in raised)
    same = [f.message for f in lint_with(source, previous=before).findings]
    assert not any("version is still" in m for m in same)


def test_a_section_shared_minus_a_few_fields_is_a_warning(tmp_path):
    """Allow-lists, not "everything except": what the contract adds to a section later
    would be shared unseen."""
    import shutil
    from pathlib import Path

    from gateway.policy.tools.lint import lint as lint_with

    source = Path(__file__).resolve().parents[2] / "policies" / "west-midlands-easi"
    edited = tmp_path / "west-midlands-easi"
    shutil.copytree(source, edited)
    flows = edited / "flows.yaml"
    text = flows.read_text()
    assert "      - subjects[].access\n      - payload.crime\n" in text
    flows.write_text(
        text.replace(
            "      - subjects[].access\n      - payload.crime\n",
            "      - subjects[].access\n      - payload.crime\n"
            "      - path: payload.crime.summary\n        transform: drop\n",
            1,
        )
    )
    warnings = [f.message for f in lint_with(edited).findings if "except" in f.message]
    assert warnings == [
        "flow 'crime-to-cps' shares payload.crime except payload.crime.summary: "
        "list the fields it shares instead (an allow-list)"
    ]
    assert not [f for f in lint_with(source).findings if "except" in f.message]


def test_free_text_shared_whole_needs_a_special_category_condition(tmp_path):
    """Free text may hold health details whatever its section: a flow sharing it whole
    names its Article 9 / Schedule 1 (or Schedule 8) condition; truncated, it need not."""
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    text = flows.read_text()
    marker = (
        "    # Free text may hold health details (see docs/fields.md).\n"
        "    special_category_condition: dpa-part3-sensitive-processing\n"
    )
    first = text.index(marker)
    flows.write_text(text[:first] + text[first + len(marker) :])
    findings = [f.message for f in lint(policy, today=dt.date(2026, 11, 26)).findings]
    assert findings == [
        "flow 'police-custody-to-probation-spoc' shares free text ("
        "payload.arrests[].bail_conditions[], payload.arrests[].reason, "
        "payload.disposals[].conditions[].detail, payload.disposals[].conditions[].text, "
        "payload.orders[].prohibitions[].detail, payload.orders[].prohibitions[].text, "
        "payload.orders[].requirements[].detail, payload.orders[].requirements[].text) "
        "with no special category condition: free text may hold health details; name the "
        "condition (special_category_condition), or drop or truncate it"
    ]
