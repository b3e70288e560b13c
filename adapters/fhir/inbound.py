"""FHIR resources in: grouped by the patient they are about, then read into an exchange.

A submission must be about one patient (the adapter refuses more): health
data about two people never travels in one record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.alerts import indicator, names_someone, raised_in_future
from adapters.base import IngestContext, check_purpose_id
from adapters.fhir import native as fx
from adapters.fhir.native import (
    REFERRAL_OUTCOME_BY_STATUS,
    RISK_LEVEL_BY_CODE,
    URGENCY_BY_PRIORITY,
)
from contracts import (
    Address,
    AlertKind,
    AlertSection,
    Category,
    CodedEntry,
    ConsentRecord,
    ConsentStatus,
    Engagement,
    Exchange,
    HealthSection,
    Identifier,
    IdentifierSystem,
    Payload,
    PersonName,
    ReferralOutcome,
    ReferralSection,
    RiskSection,
    RiskTool,
    Subject,
    SubjectRole,
    Urgency,
    nhs_number_is_valid,
)
from contracts.ids import new_id
from gateway.errors import FieldProblem, InvalidRecord


def _where(resource: dict[str, Any], element: str) -> tuple[str, int | None]:
    """The field path and record index of an element of a (bundled) resource."""
    index = resource.get("_index")
    prefix = f"entry[{index}].resource." if index is not None else ""
    return prefix + element, index


def _problem(resource: dict[str, Any], element: str, message: str) -> InvalidRecord:
    path, index = _where(resource, element)
    return InvalidRecord(
        f"the FHIR {resource['resourceType']} cannot be used",
        [FieldProblem(path, message, index)],
    )


def _text(concept: dict[str, Any] | None) -> str | None:
    if not concept:
        return None
    text: str | None = concept.get("text")
    if text:
        return text
    for coding in concept.get("coding") or []:
        display: str | None = coding.get("display")
        if display:
            return display
    return None


def _codings(concept: dict[str, Any] | None) -> list[dict[str, Any]]:
    return (concept or {}).get("coding") or []


def _coded(
    concept: dict[str, Any] | None, recorded_at: Any = None, value: str | None = None
) -> CodedEntry:
    coding = next(iter(_codings(concept)), {})
    return CodedEntry(
        system=coding.get("system"),
        code=coding.get("code"),
        display=_text(concept) or coding.get("code") or "(not stated)",
        value=value,
        recorded_at=recorded_at,
    )


def _value_text(observation: dict[str, Any]) -> str | None:
    """An observation's value as text; for a panel (blood pressure) its components'."""
    own = _own_value_text(observation)
    if own is not None or not observation.get("component"):
        return own
    parts = []
    for component in observation["component"]:
        value = _own_value_text(component)
        if value is not None:
            label = _text(component.get("code"))
            parts.append(f"{label}: {value}" if label else value)
    return "; ".join(parts) or None


def _own_value_text(observation: dict[str, Any]) -> str | None:
    for key, value in observation.items():
        if not key.startswith("value"):
            continue
        if key == "valueQuantity":
            return " ".join(
                str(v) for v in (value.get("value"), value.get("unit")) if v is not None
            )
        if key == "valueCodeableConcept":
            return _text(value)
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


# -- subjects ---------------------------------------------------------------------------


@dataclass
class _Group:
    """Everything in a submission about one patient."""

    subject: Subject
    resources: list[dict[str, Any]] = field(default_factory=list)
    #: Bundle entry that introduced this patient (None for a single resource).
    index: int | None = None
    #: The role stated by a subject-role extension, and where (to name a contradiction).
    role: SubjectRole | None = None
    role_stated_at: str | None = None

    def state_role(self, role: SubjectRole, resource: dict[str, Any], element: str) -> None:
        """Take the role one element states; two elements stating different roles for
        one person is the sender's contradiction, refused rather than resolved."""
        if self.role is not None and role is not self.role:
            raise _problem(
                resource,
                element,
                f"says the person is {role.value}, but {self.role_stated_at} says "
                f"{self.role.value}: one person has one role in a submission",
            )
        self.role = role
        self.role_stated_at = self.role_stated_at or _where(resource, element)[0]
        self.subject.role = role


def _stated_role(resource: dict[str, Any], element: str) -> SubjectRole | None:
    """The role a subject-role extension on ``element`` (``extension`` of a Patient,
    ``subject.extension`` of a resource about one) states, checked; None without one."""
    holder = resource if element == "extension" else resource.get(element.split(".")[0]) or {}
    found = None
    for i, ext in enumerate(holder.get("extension") or []):
        if ext.get("url") != fx.SUBJECT_ROLE_EXTENSION:
            continue
        where = f"{element}[{i}]"
        code = ext.get("valueCode")
        if code is None:
            raise _problem(
                resource, where, "the subject-role extension gives its role as valueCode"
            )
        if code not in fx.ROLE_CODES:
            raise _problem(
                resource,
                f"{where}.valueCode",
                f"unknown subject role {code!r}; one of: {', '.join(fx.ROLE_CODES)}",
            )
        if found is not None and found.value != code:
            raise _problem(resource, where, "two subject-role extensions with different roles")
        found = SubjectRole(code)
    return found


def _checked_nhs_number(value: str, resource: dict[str, Any], element: str) -> str:
    if not nhs_number_is_valid(value):
        raise _problem(resource, element, "not a valid NHS number (modulus 11 check failed)")
    return value.replace(" ", "")


def _person_subject(person: dict[str, Any], ref: str, role: SubjectRole) -> Subject:
    """A Patient or RelatedPerson as a subject: identifiers (an NHS number checked),
    the official name, birth date, gender and home address."""
    identifiers = []
    for i, ident in enumerate(person.get("identifier") or []):
        system, value = ident.get("system"), ident.get("value")
        if not value:
            continue
        if system == fx.NHS_NUMBER_SYSTEM:
            nhs_number = _checked_nhs_number(value, person, f"identifier[{i}].value")
            identifiers.append(Identifier(system=IdentifierSystem.NHS_NUMBER, value=nhs_number))
            continue
        known = {v: k for k, v in fx.IDENTIFIER_SYSTEMS.items()}.get(system)
        identifiers.append(
            Identifier(
                system=IdentifierSystem(known) if known else IdentifierSystem.LOCAL,
                value=value,
                issuer=None if known else system,
            )
        )
    names = person.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    name = None
    if official:
        name = PersonName(
            given=next(iter(official.get("given") or []), None), family=official.get("family")
        )
    address = None
    if person.get("address"):
        home = person["address"][0]
        address = Address(
            lines=home.get("line") or [],
            town=home.get("city"),
            postcode=home.get("postalCode"),
            local_authority=home.get("district"),
        )
    return Subject(
        ref=ref,
        role=role,
        identifiers=identifiers,
        name=name,
        date_of_birth=person.get("birthDate"),
        gender=person.get("gender"),
        address=address,
    )


def _patient_subject(patient: dict[str, Any], ref: str, alert: bool = False) -> Subject:
    """A Patient needs an NHS number, except on an alert: a crisis team or an intervention
    service may know the person only by a PNC ID or CRN, or by name and date of birth,
    and an alert must not wait for a PDS trace."""
    subject = _person_subject(patient, ref, SubjectRole.PATIENT)
    if any(i.system == IdentifierSystem.NHS_NUMBER for i in subject.identifiers):
        return subject
    if not alert:
        raise _problem(
            patient, "identifier", f"a Patient needs an NHS number (system {fx.NHS_NUMBER_SYSTEM})"
        )
    if not names_someone(subject):
        raise _problem(
            patient,
            "identifier",
            "the alert's Patient names nobody anyone could find: give an identifier (NHS "
            "number, PNC ID, CRN, NOMS number) or a name and birthDate",
        )
    return subject


def _alert_codings(
    concepts: list[dict[str, Any]], resource: dict[str, Any], element: str
) -> list[AlertKind]:
    """The alert indicators a resource is coded with, in order, once each: the gateway's
    alert-kind codes (an unknown one is an error, not a silent non-alert) and the SNOMED
    CT findings that mean one."""
    kinds: list[AlertKind] = []
    for c, concept in enumerate(concepts):
        for i, coding in enumerate(_codings(concept)):
            system, code = coding.get("system"), coding.get("code")
            kind = None
            if system == fx.ALERT_KIND_SYSTEM:
                try:
                    kind = indicator(code or "")
                except ValueError as exc:
                    raise _problem(resource, f"{element}[{c}].coding[{i}].code", str(exc)) from None
            elif system == fx.SNOMED and code in fx.SNOMED_ALERTS:
                kind = AlertKind(fx.SNOMED_ALERTS[code])
            if kind and kind not in kinds:
                kinds.append(kind)
    return kinds


def _alert_communication(resource: dict[str, Any]) -> bool:
    """A Communication is an alert when its priority is stat or asap and its reasonCode
    carries an alert indicator."""
    return resource.get("priority") in fx.ALERT_PRIORITIES and bool(
        _alert_codings(resource.get("reasonCode") or [], resource, "reasonCode")
    )


def _raises_alert(resources: list[dict[str, Any]]) -> bool:
    """Whether the submission raises an urgent alert (then an NHS number is not needed)."""
    for resource in resources:
        kind = resource["resourceType"]
        flag = kind == "Flag" and resource.get("status") == "active"
        if flag and _alert_codings([resource.get("code") or {}], resource, "code"):
            return True
        if kind == "Communication" and _alert_communication(resource):
            return True
    return False


def _related_subject(person: dict[str, Any], ref: str) -> Subject:
    """A RelatedPerson (the victim a perpetrator's record names, say): a further subject
    whose role its own subject-role extension gives, else ``other``."""
    role = _stated_role(person, "extension") or SubjectRole.OTHER
    return _person_subject(person, ref, role)


def _subject_element(resource: dict[str, Any]) -> str:
    return "patient" if resource["resourceType"] in ("Consent", "RelatedPerson") else "subject"


def _subject_key(
    resource: dict[str, Any], patients: dict[str, str]
) -> tuple[str, Identifier | None]:
    """Which patient a clinical resource is about: a key, and an identifier if not a Patient.

    A reference to a Patient in the submission resolves to it, literally or by any
    identifier it carries; a logical reference by NHS number (or a PNC ID, CRN or
    NOMS number) stands alone; a literal reference to a Patient we
    were not sent (as in NHS England's published examples) is kept as a local
    identifier so the record is not lost, and policy decides what it may reach.
    """
    element = _subject_element(resource)
    reference = resource.get(element) or {}
    literal = reference.get("reference")
    if literal and literal in patients:
        return patients[literal], None
    ident = reference.get("identifier") or {}
    if ident.get("system") == fx.NHS_NUMBER_SYSTEM and ident.get("value"):
        value = _checked_nhs_number(ident["value"], resource, f"{element}.identifier.value")
        if f"nhs:{value}" in patients:
            return patients[f"nhs:{value}"], None
        return f"nhs:{value}", Identifier(system=IdentifierSystem.NHS_NUMBER, value=value)
    if ident.get("system") and ident.get("value"):
        # Another identifier (a PNC ID or CRN on an alert's Patient, who has no NHS number).
        key = f"id:{ident['system']}|{ident['value']}"
        if key in patients:
            return patients[key], None
        known = {v: k for k, v in fx.IDENTIFIER_SYSTEMS.items()}.get(ident["system"])
        if known:
            return key, Identifier(system=IdentifierSystem(known), value=ident["value"])
    if literal:
        return f"ref:{literal}", Identifier(
            system=IdentifierSystem.LOCAL, value=literal[:64], issuer="fhir"
        )
    raise _problem(
        resource, element, "names no patient: give a reference or an NHS number identifier"
    )


def group_by_patient(resources: list[dict[str, Any]]) -> list[_Group]:
    groups: dict[str, _Group] = {}
    aliases: dict[str, str] = {}
    alert = _raises_alert(resources)
    for resource in resources:
        if resource["resourceType"] != "Patient":
            continue
        key = f"patient:{len(groups)}"
        groups[key] = _Group(
            _patient_subject(resource, f"P{len(groups) + 1}", alert), index=resource.get("_index")
        )
        role = _stated_role(resource, "extension")
        if role:
            groups[key].state_role(role, resource, "extension")
        nhs = next(
            (
                i.value
                for i in groups[key].subject.identifiers
                if i.system == IdentifierSystem.NHS_NUMBER
            ),
            None,
        )
        for alias in (
            resource.get("_fullUrl"),
            f"Patient/{resource['id']}" if resource.get("id") else None,
            f"nhs:{nhs}" if nhs else None,
            *(
                f"id:{i['system']}|{i['value']}"
                for i in resource.get("identifier") or []
                if i.get("system") and i.get("value")
            ),
        ):
            if alias:
                aliases[alias] = key
    for resource in resources:
        if resource["resourceType"] in ("Patient", "MessageHeader"):
            continue
        key, identifier = _subject_key(resource, aliases)
        if key not in groups:
            display = (resource.get(_subject_element(resource)) or {}).get("display")
            groups[key] = _Group(
                Subject(
                    ref=f"P{len(groups) + 1}",
                    role=SubjectRole.PATIENT,
                    identifiers=[identifier] if identifier else [],
                    name=PersonName(family=display) if display else None,
                ),
                index=resource.get("_index"),
            )
            aliases[key] = key
        groups[key].resources.append(resource)
        element = f"{_subject_element(resource)}.extension"
        role = _stated_role(resource, element)
        if role:
            groups[key].state_role(role, resource, element)
    return list(groups.values())


# -- inbound ----------------------------------------------------------------------------


@dataclass
class _Built:
    received_at: datetime
    health: dict[str, Any] = field(default_factory=dict)
    alert: AlertSection | None = None
    risk: RiskSection | None = None
    referral: ReferralSection | None = None
    urgency: Urgency = Urgency.ROUTINE

    def raise_urgency(self, urgency: Urgency) -> None:
        order = list(Urgency)
        if order.index(urgency) > order.index(self.urgency):
            self.urgency = urgency


def _alert(
    kinds: list[AlertKind],
    resource: dict[str, Any],
    element: str,
    raised_at: str | None,
    built: _Built,
    **fields: Any,
) -> AlertSection:
    """The canonical alert; a raised time well ahead of the gateway's clock is refused."""
    section = AlertSection(
        kind=kinds[0], indicators=kinds[1:], raised_at=raised_at or built.received_at, **fields
    )
    problem = raised_in_future(section.raised_at, built.received_at)
    if problem:
        raise _problem(resource, element, problem)
    return section


def _flag(flag: dict[str, Any], built: _Built) -> None:
    period = flag.get("period") or {}
    kinds = _alert_codings([flag.get("code") or {}], flag, "code")
    if kinds and flag.get("status") == "active" and built.alert is None:
        built.alert = _alert(
            kinds,
            flag,
            "period.start",
            period.get("start"),
            built,
            detail=flag.get("code", {}).get("text"),
            raised_by=(flag.get("author") or {}).get("display"),
            valid_until=period.get("end"),
        )
        built.raise_urgency(Urgency.IMMEDIATE)
        return
    built.health.setdefault("heightened_risk_indicators", []).append(
        _coded(flag.get("code"), period.get("start"))
    )


def _observation(observation: dict[str, Any], built: _Built) -> None:
    code = next(
        (
            c["code"]
            for c in _codings(observation.get("code"))
            if c.get("system") == fx.ENGAGEMENT_SYSTEM
        ),
        None,
    )
    health = built.health
    if code == "sessions-offered":
        health["sessions_offered"] = observation.get("valueInteger")
    elif code == "sessions-attended":
        health["sessions_attended"] = observation.get("valueInteger")
    elif code == "engagement":
        value = next(iter(_codings(observation.get("valueCodeableConcept"))), {}).get("code")
        if value not in set(Engagement):
            raise _problem(
                observation,
                "valueCodeableConcept",
                f"engagement must be one of {', '.join(Engagement)}",
            )
        health["engagement"] = value
    elif code == "intervention":
        health["intervention"] = observation.get("valueString")
    elif code == "intervention-completed":
        health["completed"] = observation.get("valueBoolean")
        effective = observation.get("effectiveDateTime")
        if health["completed"] and effective:
            health["completed_on"] = effective[:10]
    else:
        health.setdefault("observations", []).append(
            _coded(
                observation.get("code"),
                observation.get("effectiveDateTime"),
                _value_text(observation),
            )
        )
    performer: dict[str, Any] = next(iter(observation.get("performer") or []), {})
    if code and performer.get("display"):
        health.setdefault("clinician", performer["display"])


def _risk_assessment(assessment: dict[str, Any], built: _Built) -> None:
    prediction: dict[str, Any] = next(iter(assessment.get("prediction") or []), {})
    codes = [c.get("code") for c in _codings(prediction.get("qualitativeRisk"))]
    level = next((RISK_LEVEL_BY_CODE[c] for c in codes if c in RISK_LEVEL_BY_CODE), None)
    if level is None:
        # Without a qualitative risk there is no level a policy could test.
        built.health.setdefault("observations", []).append(
            _coded(
                assessment.get("code") or assessment.get("method") or {"text": "Risk assessment"},
                assessment.get("occurrenceDateTime"),
            )
        )
        return
    tools = {c.get("code") for c in _codings(assessment.get("method"))}
    tool = next((t for t in RiskTool if t.value in tools), RiskTool.CLINICAL)
    notes = [n.get("text") for n in assessment.get("note") or [] if n.get("text")]
    built.risk = RiskSection(
        tool=tool,
        level=level,
        assessed_at=assessment.get("occurrenceDateTime"),
        rationale=prediction.get("rationale") or ("\n".join(notes) or None),
    )


def _service_request(request: dict[str, Any], built: _Built, context: IngestContext) -> None:
    identifier: dict[str, Any] = next(iter(request.get("identifier") or []), {})
    performer: dict[str, Any] = next(iter(request.get("performer") or []), {})
    outcome = REFERRAL_OUTCOME_BY_STATUS.get(request.get("status", ""))
    reasons = [_text(r) for r in request.get("reasonCode") or []]
    built.referral = ReferralSection(
        referral_id=identifier.get("value"),
        referred_to=performer.get("display")
        or _text(request.get("performerType"))
        or "unspecified",
        referred_at=request.get("authoredOn") or context.received_at,
        referring_agency=(request.get("requester") or {}).get("display") or context.source_partner,
        reason="; ".join(r for r in reasons if r) or None,
        outcome=ReferralOutcome(outcome) if outcome else None,
    )
    built.raise_urgency(URGENCY_BY_PRIORITY.get(request.get("priority", ""), Urgency.ROUTINE))


def _consent(consent: dict[str, Any], built: _Built) -> None:
    provision = consent.get("provision") or {}
    refused = provision.get("type") == "deny" or consent.get("status") in ("rejected", "inactive")
    justification = next((_text(r) for r in consent.get("policy") or [] if _text(r)), None)
    justification = _text(consent.get("policyRule")) or justification
    if refused and not justification:
        raise _problem(
            consent, "policyRule", "a refused consent needs the justification for sharing anyway"
        )
    built.health["consent"] = ConsentRecord(
        status=ConsentStatus.REFUSED if refused else ConsentStatus.GIVEN,
        recorded_at=consent.get("dateTime"),
        justification=justification,
    )


def _communication(message: dict[str, Any], built: _Built) -> None:
    categories = [c.get("code") for cat in message.get("category") or [] for c in _codings(cat)]
    if "gateway-summary" in categories:
        return  # our own plain-words summary of non-health sections, not clinical content
    texts = [p["contentString"] for p in message.get("payload") or [] if p.get("contentString")]
    if built.alert is None and _alert_communication(message):
        # An alert sent as a message: priority stat (immediate) or asap (urgent), the
        # indicators as reasons, the words as its detail (not as clinical content).
        built.alert = _alert(
            _alert_codings(message.get("reasonCode") or [], message, "reasonCode"),
            message,
            "sent",
            message.get("sent"),
            built,
            detail="\n".join(texts) or None,
            raised_by=(message.get("sender") or {}).get("display"),
        )
        built.raise_urgency(URGENCY_BY_PRIORITY[message["priority"]])
        return
    if texts:
        existing = built.health.get("summary")
        built.health["summary"] = "\n".join([existing, *texts] if existing else texts)
    sender = (message.get("sender") or {}).get("display")
    if sender:
        built.health.setdefault("clinician", sender)
    built.raise_urgency(URGENCY_BY_PRIORITY.get(message.get("priority", ""), Urgency.ROUTINE))


def _condition(condition: dict[str, Any], built: _Built) -> None:
    built.health.setdefault("conditions", []).append(
        _coded(condition.get("code"), condition.get("recordedDate"))
    )


def _category(built: _Built, health: HealthSection | None) -> Category:
    if built.alert:
        return Category.URGENT_ALERT
    if built.referral:
        return Category.REFERRAL
    if built.risk and health is None:
        return Category.RISK_ASSESSMENT
    return Category.HEALTH_INFORMATION


def _purposes(envelope: dict[str, Any]) -> list[str]:
    """Every purpose tag (``meta.tag`` with PURPOSE_SYSTEM) on the Bundle or lone resource,
    in order; none is allowed (the sender's registration then gives the purposes)."""
    purposes: list[str] = []
    for i, tag in enumerate((envelope.get("meta") or {}).get("tag") or []):
        if tag.get("system") != fx.PURPOSE_SYSTEM:
            continue
        code = tag.get("code") or ""
        try:
            check_purpose_id(code)
        except ValueError as exc:
            raise _problem(envelope, f"meta.tag[{i}].code", str(exc)) from None
        if code in purposes:
            raise _problem(envelope, f"meta.tag[{i}].code", f"purpose {code!r} is tagged twice")
        purposes.append(code)
    return purposes


def to_canonical(group: _Group, envelope: dict[str, Any], context: IngestContext) -> Exchange:
    built = _Built(received_at=context.received_at)
    readers = {
        "Flag": _flag,
        "Observation": _observation,
        "RiskAssessment": _risk_assessment,
        "Consent": _consent,
        "Communication": _communication,
        "Condition": _condition,
    }
    subjects = [group.subject]
    for resource in group.resources:
        kind = resource["resourceType"]
        if kind == "RelatedPerson":
            subjects.append(_related_subject(resource, f"R{len(subjects)}"))
        elif kind == "ServiceRequest":
            _service_request(resource, built, context)
        else:
            readers[kind](resource, built)
    health = HealthSection(**built.health) if built.health else None
    if built.referral and health and health.consent and built.referral.consent is None:
        built.referral.consent = health.consent
    purposes = _purposes(envelope)
    identifier = (
        envelope.get("identifier") if envelope.get("resourceType") == "Bundle" else None
    ) or {}
    case_reference = (
        identifier.get("value") if identifier.get("system") == fx.CASE_REFERENCE_SYSTEM else None
    )
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=_category(built, health),
        purposes=purposes,
        urgency=built.urgency,
        case_reference=case_reference,
        subjects=subjects,
        payload=Payload(health=health, alert=built.alert, risk=built.risk, referral=built.referral),
    )
