"""MARAC referral and meeting feed <-> canonical exchanges.

A referral is one exchange (category ``referral``) with the DASH checklist,
a DASH risk section a policy can test, and consent. A meeting feed becomes one
exchange per case on the list (category ``meeting_feed``), so each case can be
routed and minimised on its own. The victim's address and safe contact land
in fields the contract marks ``victim_location``.
"""

from __future__ import annotations

from typing import Any

from adapters.alerts import alert_section, alert_urgency, native_alert
from adapters.base import (
    IngestContext,
    collect_identifiers,
    drop_empty,
    identifier_values,
    native_purposes,
    person_name,
)
from adapters.marac.native import (
    MaracAlert,
    MaracMeetingFeed,
    MaracReferral,
    NativeCase,
    NativeOtherPerson,
    NativePerson,
)
from adapters.meetings import canonical_actions, native_actions
from contracts import (
    DASH_HIGH_RISK_TICKS,
    Address,
    AgendaItem,
    Category,
    ConsentRecord,
    ConsentStatus,
    DashAnswer,
    DashChecklist,
    Exchange,
    IdentifierSystem,
    MeetingForum,
    MeetingSection,
    Payload,
    ReferralGround,
    ReferralOutcome,
    ReferralSection,
    RiskLevel,
    RiskSection,
    RiskTool,
    Subject,
    SubjectRole,
    Urgency,
    nhs_number_is_valid,
)
from contracts.ids import new_id
from gateway.errors import FieldProblem, InvalidRecord

FORMAT = "marac/1"
ANSWER = {"Y": DashAnswer.YES, "N": DashAnswer.NO, "NK": DashAnswer.NOT_KNOWN}
NATIVE_ANSWER = {v: k for k, v in ANSWER.items()}
#: Grounds that make a referral high risk whatever the DASH score.
JUDGEMENT_GROUNDS = {ReferralGround.PROFESSIONAL_JUDGEMENT, ReferralGround.ESCALATION}


def person_problems(person: NativePerson, field: str, record: int | None) -> list[FieldProblem]:
    """A person must be identifiable, and an NHS number must pass its check digit."""
    problems = []
    if person.nhs_number and not nhs_number_is_valid(person.nhs_number):
        problems.append(
            FieldProblem(
                f"{field}.nhs_number", "not a valid NHS number (modulus 11 check failed)", record
            )
        )
    identified = person.nhs_number or person.pnc_id or person.local_id
    if not identified and not (person.surname and person.dob):
        problems.append(
            FieldProblem(
                field,
                "needs an identifier (nhs_number, pnc_id or local_id) or a surname and dob",
                record,
            )
        )
    return problems


def _subject(person: NativePerson, role: SubjectRole) -> Subject:
    nhs_number = person.nhs_number.replace(" ", "") if person.nhs_number else None
    return Subject(
        ref=person.ref,
        role=role,
        identifiers=collect_identifiers(
            (IdentifierSystem.NHS_NUMBER, nhs_number),
            (IdentifierSystem.PNC_ID, person.pnc_id),
            (IdentifierSystem.LOCAL, person.local_id),
            local_issuer="marac",
        ),
        name=person_name(person.forename, person.surname),
        date_of_birth=person.dob,
        gender=person.gender,
        address=Address(**person.address.model_dump()) if person.address else None,
        safe_contact=person.safe_contact,
    )


def _people(case: MaracReferral | NativeCase | MaracAlert) -> list[Subject]:
    subjects = [_subject(case.victim, SubjectRole.VICTIM)] if case.victim else []
    if case.perpetrator:
        subjects.append(_subject(case.perpetrator, SubjectRole.PERPETRATOR))
    subjects += [_subject(c, SubjectRole.CHILD) for c in case.children]
    subjects += [_subject(o, SubjectRole(o.role)) for o in case.others]
    return subjects


def other_problems(
    others: list[NativeOtherPerson], prefix: str, record: int | None
) -> list[FieldProblem]:
    """A witness or other person needs no identifier, but must be named somehow."""
    return [
        FieldProblem(f"{prefix}others[{i}]", "needs a name or an identifier", record)
        for i, o in enumerate(others)
        if not (o.forename or o.surname or o.nhs_number or o.pnc_id or o.local_id)
    ]


def ref_problems(
    case: MaracReferral | NativeCase | MaracAlert, prefix: str, record: int | None
) -> list[FieldProblem]:
    """Every person on the form has a ref of their own."""
    people = [("victim", case.victim)] if case.victim else []
    if case.perpetrator:
        people.append(("perpetrator", case.perpetrator))
    people += [(f"children[{i}]", c) for i, c in enumerate(case.children)]
    people += [(f"others[{i}]", o) for i, o in enumerate(case.others)]
    seen: set[str] = set()
    problems = []
    for field, person in people:
        if person.ref in seen:
            problems.append(
                FieldProblem(f"{prefix}{field}.ref", f"ref {person.ref!r} is used twice", record)
            )
        seen.add(person.ref)
    return problems


def check_referral(referral: MaracReferral) -> None:
    """The MARAC threshold, consent and people rules a referral must meet."""
    problems = person_problems(referral.victim, "victim", None)
    problems += person_problems(referral.perpetrator, "perpetrator", None)
    for i, child in enumerate(referral.children):
        problems += person_problems(child, f"children[{i}]", None)
    problems += other_problems(referral.others, "", None)
    problems += ref_problems(referral, "", None)
    ticks = referral.dash.total if referral.dash else 0
    if referral.dash and referral.dash.answers.count("Y") != ticks:
        problems.append(
            FieldProblem(
                "dash.total",
                f"total is {ticks} but {referral.dash.answers.count('Y')} answers are 'Y'",
            )
        )
    grounds = set(referral.referral.grounds)
    if ReferralGround.VISIBLE_HIGH_RISK in grounds and ticks < DASH_HIGH_RISK_TICKS:
        problems.append(
            FieldProblem(
                "referral.grounds",
                f"visible high risk needs {DASH_HIGH_RISK_TICKS} or more DASH ticks; has {ticks}",
            )
        )
    if ticks < DASH_HIGH_RISK_TICKS and not grounds & JUDGEMENT_GROUNDS:
        problems.append(
            FieldProblem(
                "referral.grounds",
                f"below the MARAC threshold: fewer than {DASH_HIGH_RISK_TICKS} DASH ticks and "
                "no professional judgement or escalation",
            )
        )
    if not referral.consent.given and not referral.consent.justification:
        problems.append(
            FieldProblem(
                "consent.justification", "information shared without consent needs a justification"
            )
        )
    if (
        referral.children_in_household is not None
        and len(referral.children) > referral.children_in_household
    ):
        problems.append(
            FieldProblem("children", "more children listed than children_in_household says")
        )
    if problems:
        raise InvalidRecord("the MARAC referral is not valid", problems)


def referral_to_canonical(referral: MaracReferral, context: IngestContext) -> Exchange:
    detail = referral.referral
    dash = None
    grounds = [ReferralGround(g) for g in dict.fromkeys(detail.grounds)]
    if referral.dash:
        dash = DashChecklist(
            answers=[ANSWER[a] for a in referral.dash.answers],
            ticks=referral.dash.total,
            completed_at=referral.dash.completed,
        )
        if dash.ticks >= DASH_HIGH_RISK_TICKS and ReferralGround.VISIBLE_HIGH_RISK not in grounds:
            grounds.insert(0, ReferralGround.VISIBLE_HIGH_RISK)
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=Category.REFERRAL,
        purposes=referral.declared(),
        urgency=Urgency(referral.urgency),
        case_reference=referral.marac_case_id,
        subjects=_people(referral),
        payload=Payload(
            # check_referral refused anything below the threshold, so a referral is high risk.
            risk=RiskSection(
                tool=RiskTool.DASH,
                level=RiskLevel.HIGH,
                score=dash.ticks if dash else None,
                assessed_at=dash.completed_at if dash else None,
            ),
            referral=ReferralSection(
                referral_id=detail.id,
                referred_to="marac",
                referred_at=detail.date,
                referring_agency=detail.referring_agency,
                referrer=detail.referrer,
                grounds=grounds,
                dash=dash,
                high_risk=True,
                children_in_household=referral.children_in_household,
                consent=ConsentRecord(
                    status=ConsentStatus.GIVEN if referral.consent.given else ConsentStatus.REFUSED,
                    recorded_at=referral.consent.date,
                    justification=referral.consent.justification,
                ),
                reason=detail.reason,
                outcome=ReferralOutcome(detail.outcome) if detail.outcome else None,
            ),
        ),
    )


def check_case(case: NativeCase, index: int) -> None:
    problems = person_problems(case.victim, f"cases[{index}].victim", index)
    if case.perpetrator:
        problems += person_problems(case.perpetrator, f"cases[{index}].perpetrator", index)
    problems += other_problems(case.others, f"cases[{index}].", index)
    problems += ref_problems(case, f"cases[{index}].", index)
    if problems:
        raise InvalidRecord(f"MARAC meeting case {index} is not valid", problems)


def case_to_canonical(feed: MaracMeetingFeed, case: NativeCase, context: IngestContext) -> Exchange:
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=Category.MEETING_FEED,
        purposes=feed.declared(),
        case_reference=case.marac_case_id,
        subjects=_people(case),
        payload=Payload(
            meeting=MeetingSection(
                forum=MeetingForum.MARAC,
                meeting_id=feed.meeting.id,
                held_on=feed.meeting.date,
                area=feed.meeting.area,
                agenda=[
                    AgendaItem(
                        case_reference=case.marac_case_id,
                        position=case.position,
                        referring_agency=case.referring_agency,
                        repeat=case.repeat,
                    )
                ],
                actions=canonical_actions(case.actions, case.marac_case_id),
                outcomes=case.outcomes,
            )
        ),
    )


def check_alert(alert: MaracAlert) -> None:
    """An alert names the victim or the perpetrator (or both), each identifiable."""
    problems = []
    if alert.victim is None and alert.perpetrator is None:
        problems.append(
            FieldProblem(
                "victim", "an alert names its victim or its perpetrator (or both): neither given"
            )
        )
    for field, person in (("victim", alert.victim), ("perpetrator", alert.perpetrator)):
        if person:
            problems += person_problems(person, field, None)
    for i, child in enumerate(alert.children):
        problems += person_problems(child, f"children[{i}]", None)
    problems += other_problems(alert.others, "", None)
    problems += ref_problems(alert, "", None)
    if problems:
        raise InvalidRecord("the MARAC alert is not valid", problems)


def alert_to_canonical(alert: MaracAlert, context: IngestContext) -> Exchange:
    meeting = None
    if alert.meeting:
        meeting = MeetingSection(
            forum=MeetingForum.MARAC,
            meeting_id=alert.meeting.id,
            held_on=alert.meeting.date,
            area=alert.meeting.area,
        )
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=Category.URGENT_ALERT,
        purposes=alert.declared(),
        urgency=alert_urgency(alert.urgency, True),
        case_reference=alert.marac_case_id,
        subjects=_people(alert),
        payload=Payload(alert=alert_section(alert.alert, context.received_at), meeting=meeting),
    )


# -- outbound ---------------------------------------------------------------------------


def _native_person(subject: dict[str, Any] | None) -> dict[str, Any] | None:
    if subject is None:
        return None
    ids = identifier_values(subject)
    name = subject.get("name") or {}
    return {
        "ref": subject.get("ref"),
        "forename": name.get("given"),
        "surname": name.get("family"),
        "dob": subject.get("date_of_birth"),
        "gender": subject.get("gender"),
        "nhs_number": ids.get("nhs_number"),
        "pnc_id": ids.get("pnc_id"),
        "local_id": ids.get("local"),
        "address": subject.get("address"),
        "safe_contact": subject.get("safe_contact"),
    }


def _by_role(subjects: list[dict[str, Any]], *roles: str) -> list[dict[str, Any]]:
    return [s for s in subjects if s.get("role") in roles]


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """A ``marac/1`` referral, or a one-case meeting feed; any field may be absent."""
    payload = record.get("payload") or {}
    subjects = record.get("subjects") or []
    victim = next(iter(_by_role(subjects, "victim")), None)
    perpetrator = next(iter(_by_role(subjects, "perpetrator", "suspect", "offender")), None)
    children = [_native_person(c) for c in _by_role(subjects, "child")]
    # Anyone else (a second victim or perpetrator has no place of their own) is "other".
    others = [
        {**(_native_person(s) or {}), "role": "witness" if s.get("role") == "witness" else "other"}
        for s in subjects
        if s.get("role") != "child" and s is not victim and s is not perpetrator
    ]
    meeting = payload.get("meeting")
    if payload.get("alert"):
        return drop_empty(
            {
                "format": FORMAT,
                "kind": "alert",
                **native_purposes(record),
                "marac_case_id": record.get("case_reference"),
                "urgency": record.get("urgency"),
                "meeting": None
                if not meeting
                else {
                    "id": meeting.get("meeting_id"),
                    "date": meeting.get("held_on"),
                    "area": meeting.get("area"),
                },
                "victim": _native_person(victim),
                "perpetrator": _native_person(perpetrator),
                "children": children,
                "others": others,
                "alert": native_alert(payload.get("alert")),
            }
        )
    if meeting and not payload.get("referral"):
        agenda: dict[str, Any] = next(iter(meeting.get("agenda") or []), {})
        native: dict[str, Any] = {
            "format": FORMAT,
            "kind": "meeting",
            **native_purposes(record),
            "meeting": {
                "id": meeting.get("meeting_id"),
                "date": meeting.get("held_on"),
                "area": meeting.get("area"),
            },
            "cases": [
                {
                    "marac_case_id": record.get("case_reference") or agenda.get("case_reference"),
                    "position": agenda.get("position"),
                    "referring_agency": agenda.get("referring_agency"),
                    "repeat": agenda.get("repeat"),
                    "victim": _native_person(victim),
                    "perpetrator": _native_person(perpetrator),
                    "children": children,
                    "others": others,
                    "actions": native_actions(meeting.get("actions")),
                    "outcomes": meeting.get("outcomes"),
                }
            ],
        }
        return drop_empty(native)
    referral = payload.get("referral") or {}
    dash = referral.get("dash")
    consent = referral.get("consent")
    native = {
        "format": FORMAT,
        "kind": "referral",
        **native_purposes(record),
        "marac_case_id": record.get("case_reference"),
        "urgency": record.get("urgency"),
        "referral": {
            "id": referral.get("referral_id"),
            "date": referral.get("referred_at"),
            "referring_agency": referral.get("referring_agency"),
            "referrer": referral.get("referrer"),
            "grounds": referral.get("grounds"),
            "reason": referral.get("reason"),
            "outcome": referral.get("outcome"),
        },
        "dash": None
        if not dash
        else {
            "answers": [NATIVE_ANSWER.get(a) for a in dash.get("answers") or []],
            "total": dash.get("ticks"),
            "completed": dash.get("completed_at"),
        },
        "consent": None
        if not consent
        else {
            "given": consent.get("status") == "given",
            "date": consent.get("recorded_at"),
            "justification": consent.get("justification"),
        },
        "children_in_household": referral.get("children_in_household"),
        "victim": _native_person(victim),
        "perpetrator": _native_person(perpetrator),
        "children": children,
        "others": others,
    }
    return drop_empty(native)
