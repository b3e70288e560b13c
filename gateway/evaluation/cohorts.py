"""Cohorts, defined in the agreement as data: ``<policy dir>/evaluation/cohorts.yaml``.

A cohort is the people referred to an intervention (or a MARAC, or the unit)
in a period, followed for a number of months after it. It names the flow of
the agreement that governs its export, and that flow's recipient (an
evaluator) and purpose. The file lives in a subdirectory because the policy
loader reads every ``*.yaml`` directly in the agreement directory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, model_validator

from contracts import SubjectRole
from gateway.errors import FieldProblem, PolicyLoadError
from gateway.policy import PolicyBundle
from gateway.policy.model import ID_PATTERN, PolicyModel
from gateway.policy.source import Source

COHORTS_DIR = "evaluation"
COHORTS_FILE = "cohorts.yaml"
#: The kind of party an evaluation export may go to.
EVALUATOR = "evaluator"
#: Who enters a cohort from a referral, unless the cohort says otherwise.
PERPETRATOR_ROLES = [
    SubjectRole.PERPETRATOR,
    SubjectRole.SUSPECT,
    SubjectRole.OFFENDER,
    SubjectRole.PATIENT,
]


class Entry(PolicyModel):
    """Who enters the cohort: the subjects of referrals made in a period."""

    referred_to: list[str] = Field(
        min_length=1, description="Referrals to these (e.g. triage-clinic, marac, hru)."
    )
    interventions: list[str] = Field(
        default_factory=list,
        description="Only referrals that chose one of these interventions (any, if empty).",
    )
    referred_from: date = Field(alias="from", description="First day of the period.")
    referred_until: date = Field(alias="until", description="Last day of the period.")
    roles: list[SubjectRole] = Field(
        default_factory=lambda: list(PERPETRATOR_ROLES),
        description="The referral's subjects in these roles enter the cohort.",
    )

    @model_validator(mode="after")
    def _period_runs_forward(self) -> Entry:
        if self.referred_until < self.referred_from:
            raise ValueError("until is before from")
        return self


class Cohort(PolicyModel):
    id: str = Field(pattern=ID_PATTERN)
    description: str
    flow: str = Field(default="evaluation-export", description="The agreement's export flow.")
    recipient: str = Field(description="The evaluator party the export is made for.")
    purpose: str = Field(description="The purpose the flow permits the export under.")
    entry: Entry
    follow_up_months: int = Field(default=12, ge=1, le=60)
    suppress_under: int = Field(
        default=5, ge=1, description="Aggregate cells under this are suppressed."
    )


class CohortsDocument(PolicyModel):
    cohorts: list[Cohort] = Field(min_length=1)


def cohorts_path(policy_dir: Path) -> Path:
    return Path(policy_dir) / COHORTS_DIR / COHORTS_FILE


def load_cohorts(bundle: PolicyBundle) -> dict[str, Cohort]:
    """The agreement's cohorts, each checked against the bundle: its flow is a permit
    of the agreement, to the cohort's recipient (an evaluator), for its purpose."""
    path = cohorts_path(bundle.directory)
    if not path.is_file():
        raise PolicyLoadError(f"{path}: the agreement defines no evaluation cohorts")
    source = Source.read(path)
    doc = source.validate(CohortsDocument, "cohorts")
    problems: list[FieldProblem] = []
    found: dict[str, Cohort] = {}
    flows = {f.id: f for f in bundle.flows}
    for i, cohort in enumerate(doc.cohorts):
        loc: tuple[int | str, ...] = ("cohorts", i)
        if cohort.id in found:
            problems.append(source.problem((*loc, "id"), f"cohort {cohort.id!r} is defined twice"))
        found[cohort.id] = cohort
        flow = flows.get(cohort.flow)
        party = bundle.parties.get(cohort.recipient)
        if flow is None or flow.effect != "permit":
            problems.append(source.problem((*loc, "flow"), f"{cohort.flow!r} is not a permit flow"))
        elif cohort.recipient not in flow.recipients:
            problems.append(
                source.problem(
                    (*loc, "recipient"),
                    f"flow {flow.id!r} does not go to {cohort.recipient!r}",
                )
            )
        elif cohort.purpose not in flow.purposes:
            problems.append(
                source.problem(
                    (*loc, "purpose"), f"flow {flow.id!r} is not for purpose {cohort.purpose!r}"
                )
            )
        if party is None or party.kind != EVALUATOR:
            problems.append(
                source.problem(
                    (*loc, "recipient"),
                    f"{cohort.recipient!r} is not an evaluator party of the agreement",
                )
            )
    if problems:
        raise PolicyLoadError(f"{path}: the cohorts do not load", problems)
    return found
