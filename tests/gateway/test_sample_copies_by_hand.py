"""Samples through the running gateway against copies written out by hand.

test_every_sample_end_to_end.py computes each expected copy with the gateway's
own decide and minimise functions, so it can only show the wiring. Here every
copy a recipient should receive is written out from the agreement's flows
(policies/cheshire-hru/flows.yaml) and the sample: which fields cross, in what
form. Only the exchange id and the time of submission are left to the gateway.

Age bands are taken at the date of submission: the bands below hold until
March 2029 (the youngest boundary crossed first).
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.delivery.reader import read_topic
from tests.conftest import ROOT

# --- people and things several samples share ------------------------------------

DANIEL = {"given": "Daniel", "family": "Marsh"}
SARAH = {"given": "Sarah", "family": "Keane"}
MARSH_PNC = {"system": "pnc_id", "value": "12/345678A"}
MARSH_CRN = {"system": "crn", "value": "X123456"}
MARSH_NOMS = {"system": "noms_number", "value": "A1234BC"}
STALKING_S2A = {
    "code": "8Q",
    "legislation": "Protection from Harassment Act 1997 s2A",
    "description": "Stalking",
    "offence_class": "stalking_s2a",
}
STALKING_S4A = {
    "code": "8Q",
    "legislation": "Protection from Harassment Act 1997 s4A",
    "description": "Stalking involving fear of violence",
    "offence_class": "stalking_s4a",
}
HARASSMENT_S2 = {
    "code": "8L",
    "legislation": "Protection from Harassment Act 1997 s2",
    "description": "Harassment",
    "offence_class": "harassment_s2",
}


def envelope(
    sender: str, category: str, purpose: str, case: str, urgency: str = "routine"
) -> dict[str, Any]:
    """What every copy carries, but its exchange id and time: the one purpose it was
    permitted under, never the others the record declared."""
    return {
        "contract_version": "1",
        "source_partner": sender,
        "category": category,
        "purpose": purpose,
        "purposes": [purpose],
        "urgency": urgency,
        "case_reference": case,
    }


# --- the copies -------------------------------------------------------------------

POLICE = "cheshire-police"
RISK = "stalking-risk-management"
SAFETY = "victim-safeguarding"

STALKING_CRIME = {
    # police-crime-to-probation-spoc: the suspect lives in Warrington (North PDU);
    # identities and the offence, no addresses, no summary.
    "probation-spoc-north": envelope(POLICE, "crime_record", RISK, "HRU-2026-0142")
    | {
        "subjects": [
            {"ref": "P1", "role": "suspect", "identifiers": [MARSH_PNC], "name": DANIEL},
            {"ref": "V1", "role": "victim", "identifiers": [], "name": SARAH},
        ],
        "payload": {
            "crime": {
                "occurrence_number": "CC-2026-004512",
                "offence": STALKING_S2A,
                "reported_at": "2026-11-20T14:05:00Z",
                "status": "under investigation",
            },
            "risk": {"tool": "SASH", "level": "high"},
        },
    },
    # police-crime-to-forensic-psychology (SASH high): ages as bands, the summary
    # (under 500 characters), the whole risk section; the trust works with the
    # perpetrator, so only his address crosses.
    "mersey-care-forensic": envelope(POLICE, "crime_record", RISK, "HRU-2026-0142")
    | {
        "subjects": [
            {
                "ref": "P1",
                "role": "suspect",
                "name": DANIEL,
                "date_of_birth": "35-44",
                "address": {
                    "lines": ["14 Canal Street"],
                    "town": "Warrington",
                    "postcode": "WA1 1AA",
                    "local_authority": "Warrington",
                },
            },
            {"ref": "V1", "role": "victim", "name": SARAH, "date_of_birth": "35-44"},
        ],
        "payload": {
            "crime": {
                "offence": STALKING_S2A,
                "summary": "Repeated unwanted messages and loitering outside the victim's "
                "workplace over eleven weeks.",
            },
            "risk": {"tool": "SASH", "level": "high", "assessed_at": "2026-11-20T15:00:00Z"},
        },
    },
}

LEE = {"given": "Lee", "family": "Harding"}
CLAIRE = {"given": "Claire", "family": "Harding"}
MIA = {"given": "Mia", "family": "Harding"}
NORTHWICH = {
    "lines": ["19 Orchard Way"],
    "town": "Northwich",
    "postcode": "CW9 5XY",
    "local_authority": "Cheshire West and Chester",
}
LEE_HOME = {
    "lines": ["5 Station Road"],
    "town": "Warrington",
    "postcode": "WA2 7AB",
    "local_authority": "Warrington",
}
HARDING_SUMMARY = (
    "Former partner turns up at the children's school gates and sends gifts to the victim's home."
)
TWO_PURPOSES = {
    # police-crime-to-probation-spoc-by-pdu: probation manages him from the East PDU
    # though he lives in Warrington.
    "probation-spoc-east": envelope(POLICE, "crime_record", RISK, "HRU-2026-0174")
    | {
        "subjects": [
            {
                "ref": "S1",
                "role": "suspect",
                "identifiers": [{"system": "pnc_id", "value": "09/771203D"}],
                "name": LEE,
            },
            {"ref": "V1", "role": "victim", "identifiers": [], "name": CLAIRE},
            {"ref": "C1", "role": "child", "identifiers": [], "name": MIA},
        ],
        "payload": {
            "crime": {
                "occurrence_number": "CC-2026-004951",
                "offence": STALKING_S2A,
                "reported_at": "2026-11-26T08:05:00Z",
                "status": "under investigation",
            },
            "risk": {"tool": "DASH", "level": "high"},
        },
    },
    # police-crime-to-forensic-psychology: neither the victim's address nor her
    # child's (which is hers) reaches a perpetrator-facing service.
    "mersey-care-forensic": envelope(POLICE, "crime_record", RISK, "HRU-2026-0174")
    | {
        "subjects": [
            {
                "ref": "S1",
                "role": "suspect",
                "name": LEE,
                "date_of_birth": "45-54",
                "address": LEE_HOME,
            },
            {"ref": "V1", "role": "victim", "name": CLAIRE, "date_of_birth": "35-44"},
            {"ref": "C1", "role": "child", "name": MIA, "date_of_birth": "under 18"},
        ],
        "payload": {
            "crime": {"offence": STALKING_S2A, "summary": HARDING_SUMMARY},
            "risk": {
                "tool": "DASH",
                "level": "high",
                "score": 15,
                "assessed_at": "2026-11-26T09:00:00Z",
            },
        },
    },
    # police-crime-to-victim-advocates, under the record's second purpose: the
    # victim's address and safe contact, no identifiers for the suspect.
    "victim-advocates": envelope(POLICE, "crime_record", SAFETY, "HRU-2026-0174")
    | {
        "subjects": [
            {"ref": "S1", "role": "suspect", "name": LEE, "address": LEE_HOME},
            {
                "ref": "V1",
                "role": "victim",
                "identifiers": [],
                "name": CLAIRE,
                "address": NORTHWICH,
                "safe_contact": "Mobile via advocate only",
            },
            {"ref": "C1", "role": "child", "identifiers": [], "name": MIA, "address": NORTHWICH},
        ],
        "payload": {
            "crime": {
                "occurrence_number": "CC-2026-004951",
                "offence": STALKING_S2A,
                "status": "under investigation",
                "officer_in_case": "DC 4471 Hughes",
                "summary": HARDING_SUMMARY,
            },
            "risk": {"level": "high"},
        },
    },
}

BAIL_CONDITIONS = [
    "Not to contact Sarah Keane directly or indirectly",
    "Not to enter Runcorn Old Town",
]
ARREST_CUSTODY = {
    # police-custody-to-probation-spoc: the whole custody episode.
    "probation-spoc-north": envelope(POLICE, "custody_event", RISK, "HRU-2026-0142", "urgent")
    | {
        "subjects": [{"ref": "P1", "role": "suspect", "identifiers": [MARSH_PNC], "name": DANIEL}],
        "payload": {
            "crime": {"occurrence_number": "CC-2026-004512", "offence": STALKING_S4A},
            "arrests": [
                {
                    "subject_ref": "P1",
                    "arrested_at": "2026-11-22T07:40:00Z",
                    "reason": "Suspicion of stalking involving fear of violence",
                    "custody_number": "CC/WAR/26/11833",
                    "custody_suite": "Warrington Custody Suite",
                    "released_at": "2026-11-22T21:15:00Z",
                    "outcome": "bail",
                    "bail_conditions": BAIL_CONDITIONS,
                    "bail_return_on": "2026-12-20",
                }
            ],
            "disposals": [],
            "orders": [],
        },
    },
    # police-orders-to-victim-advocates: when he was arrested and released, on
    # what bail conditions, until when (the victim code); not why, not where.
    "victim-advocates": envelope(POLICE, "custody_event", RISK, "HRU-2026-0142", "urgent")
    | {
        "subjects": [{"ref": "P1", "role": "suspect", "name": DANIEL}],
        "payload": {
            "crime": {"occurrence_number": "CC-2026-004512"},
            "arrests": [
                {
                    "arrested_at": "2026-11-22T07:40:00Z",
                    "released_at": "2026-11-22T21:15:00Z",
                    "outcome": "bail",
                    "bail_conditions": BAIL_CONDITIONS,
                    "bail_return_on": "2026-12-20",
                }
            ],
        },
    },
}

LEWIS = {"given": "Lewis", "family": "Granger"}
AMIRA = {"given": "Amira", "family": "Haddad"}
COURSE = "Attend a stalking perpetrator awareness course within 12 weeks"
NO_CONTACT = "No contact with Amira Haddad for 16 weeks"
CONDITIONAL_CAUTION = {
    # police-custody-to-probation-spoc: he lives in Crewe (Cheshire East).
    "probation-spoc-east": envelope(POLICE, "disposal", RISK, "HRU-2026-0157")
    | {
        "subjects": [
            {
                "ref": "P1",
                "role": "suspect",
                "identifiers": [{"system": "pnc_id", "value": "19/102334K"}],
                "name": LEWIS,
            },
            {"ref": "V1", "role": "victim", "identifiers": [], "name": AMIRA},
        ],
        "payload": {
            "crime": {"occurrence_number": "CC-2026-003977", "offence": HARASSMENT_S2},
            "arrests": [],
            "disposals": [
                {
                    "subject_ref": "P1",
                    "kind": "conditional_caution",
                    "decided_at": "2026-11-03T16:00:00Z",
                    "offence_code": "8L",
                    "conditions": [
                        {"text": COURSE, "kind": "rehabilitative", "compliance": "not_yet_due"},
                        {
                            "text": NO_CONTACT,
                            "kind": "non-contact",
                            "compliance": "complying",
                            "noted_at": "2026-11-24T10:00:00Z",
                        },
                    ],
                }
            ],
            "orders": [],
        },
    },
    # police-orders-to-victim-advocates: the disposal and its conditions' words only.
    "victim-advocates": envelope(POLICE, "disposal", RISK, "HRU-2026-0157")
    | {
        "subjects": [
            {"ref": "P1", "role": "suspect", "name": LEWIS},
            {"ref": "V1", "role": "victim", "name": AMIRA},
        ],
        "payload": {
            "crime": {"occurrence_number": "CC-2026-003977"},
            "disposals": [
                {
                    "kind": "conditional_caution",
                    "decided_at": "2026-11-03T16:00:00Z",
                    "conditions": [{"text": COURSE}, {"text": NO_CONTACT}],
                }
            ],
        },
    },
}

SPO_GRANTED = {
    # police-orders-to-victim-advocates: the order, its dates and prohibitions; not
    # its requirements of him, the court or its reference. (No SPOC: the record
    # gives no address or PDU for him, so it comes back unrouted for probation.)
    "victim-advocates": envelope(POLICE, "civil_order", RISK, "HRU-2026-0142")
    | {
        "subjects": [{"ref": "P1", "role": "suspect", "name": DANIEL}],
        "payload": {
            "crime": {"occurrence_number": "CC-2026-004512"},
            "orders": [
                {
                    "kind": "stalking_protection_order",
                    "stage": "granted",
                    "decided_on": "2026-11-25",
                    "expires_on": "2028-11-24",
                    "prohibitions": [
                        {"text": "Not to contact Sarah Keane by any means, including social media"},
                        {
                            "text": "Not to enter the exclusion zone around Runcorn Old Town "
                            "shown on the map attached to the order"
                        },
                    ],
                }
            ],
        },
    },
}

CWP = "cwp-mental-health"
FACT_ENGAGEMENT = {
    # cwp-engagement-to-police: engagement and attendance of the perpetrator, never
    # the diagnosis, the clinician or anything said (prohibition), nor the risk
    # rationale.
    "cheshire-police": envelope(CWP, "health_information", RISK, "HRU-2026-0157")
    | {
        "subjects": [
            {
                "ref": "P1",
                "role": "perpetrator",
                "identifiers": [{"system": "nhs_number", "value": "9990001014"}],
                "name": LEWIS,
            }
        ],
        "payload": {
            "health": {
                "intervention": "fACT (focused acceptance and commitment therapy), "
                "6 one-hour sessions",
                "engagement": "partially_engaged",
                "sessions_offered": 6,
                "sessions_attended": 4,
                "completed": False,
                "heightened_risk_indicators": [],
                "observations": [],
                "consent": {"status": "given", "recorded_at": "2026-09-14T11:00:00Z"},
            }
        },
    },
}

VICTIM_SUPPORT = {
    # victim-health-to-police-with-consent: she consented; engagement and the
    # indicators of risk to her, never the clinician, never her address.
    "cheshire-police": envelope(CWP, "health_information", SAFETY, "HRU-2026-0142")
    | {
        "subjects": [
            {
                "ref": "P1",
                "role": "victim",
                "identifiers": [{"system": "nhs_number", "value": "9990001049"}],
                "name": SARAH,
            }
        ],
        "payload": {
            "health": {
                "intervention": "Trauma-focused support after stalking, 8 sessions",
                "engagement": "engaged",
                "heightened_risk_indicators": [
                    {
                        "display": "Hypervigilance and sleep loss since the suspect was "
                        "seen outside her workplace",
                        "recorded_at": "2026-11-24T16:00:00Z",
                    }
                ],
                "consent": {"status": "given"},
            }
        },
    },
}

NORTH = "probation-spoc-north"
LICENCE_COMPLIANCE = {
    # probation-compliance-to-police: licence conditions and how they are kept, the
    # notes (under 280 characters); not the sentence, dates or risk section.
    "cheshire-police": envelope(NORTH, "compliance", RISK, "HRU-2026-0142")
    | {
        "subjects": [
            {
                "ref": "O1",
                "role": "offender",
                "identifiers": [MARSH_CRN, MARSH_NOMS, MARSH_PNC],
                "name": DANIEL,
            }
        ],
        "payload": {
            "probation": {
                "event": "compliance",
                "pdu": "North",
                "supervising_officer": "Probation Officer Grace Whitaker",
                "licence_conditions": [
                    {
                        "text": "Not to contact Sarah Keane directly or indirectly",
                        "kind": "NCV",
                        "compliance": "breached",
                        "noted_at": "2026-11-24T11:00:00Z",
                        "detail": "Admitted sending two messages through a friend's account "
                        "on 21 November",
                    },
                    {
                        "text": "Not to enter Runcorn Old Town without prior approval",
                        "kind": "EXZ",
                        "compliance": "complying",
                        "noted_at": "2026-11-24T11:00:00Z",
                    },
                    {
                        "text": "Reside at approved premises, Warrington",
                        "kind": "RES",
                        "compliance": "complying",
                    },
                    {
                        "text": "Attend and engage with the stalking intervention programme",
                        "kind": "PROG",
                        "compliance": "partial",
                        "detail": "Missed one of four sessions",
                    },
                ],
                "notes": "Warning letter issued; recall under consideration with the senior "
                "probation officer.",
            }
        },
    },
}

MAPPA = "mappa-offender-management"
MAPPA_LEVEL_CHANGE = {
    # probation-to-mappa: the category and level change and the PDU.
    "cheshire-mappa": envelope(NORTH, "offender_management", MAPPA, "HRU-2026-0142")
    | {
        "subjects": [
            {
                "ref": "O1",
                "role": "offender",
                "identifiers": [MARSH_CRN, MARSH_NOMS],
                "name": DANIEL,
            }
        ],
        "payload": {
            "mappa": {
                "category": 2,
                "level": 2,
                "previous_category": 2,
                "previous_level": 1,
                "effective_from": "2026-11-25",
            },
            "probation": {"pdu": "North"},
        },
    },
}

DASH_ANSWERS = [
    "yes", "no", "no", "yes", "no", "not_known", "yes", "no", "no", "yes", "no", "yes",
    "no", "no", "yes", "no", "no", "not_known", "yes", "no", "yes", "no", "yes", "no",
]  # fmt: skip
REFERRAL_WITHOUT_CONSENT = {
    # referral-to-marac: everyone and the whole referral and risk, shared without
    # her consent under the justification the form records (risk of serious harm).
    "cheshire-marac": envelope(POLICE, "referral", "marac-risk-assessment", "MARAC-WAR-2026-0407")
    | {
        "subjects": [
            {
                "ref": "V1",
                "role": "victim",
                "identifiers": [{"system": "local", "value": "ISAC-V-5521", "issuer": "marac"}],
                "name": {"given": "Priya", "family": "Nair"},
                "date_of_birth": "1988-04-17",
                "gender": "female",
                "address": {
                    "lines": ["6 Orchard Mews"],
                    "town": "Warrington",
                    "postcode": "WA4 2HE",
                    "local_authority": "Warrington",
                },
                "safe_contact": "Through the ISAC caseworker only",
            },
            {
                "ref": "P1",
                "role": "perpetrator",
                "identifiers": [],
                "name": {"given": "Craig", "family": "Bentley"},
                "date_of_birth": "1994-01-30",
                "gender": "male",
            },
        ],
        "payload": {
            "referral": {
                "referral_id": "BCWA-ISAC-2026-0092",
                "referred_to": "marac",
                "referred_at": "2026-11-25T11:00:00Z",
                "referring_agency": "Independent stalking advocacy (ISAC)",
                "referrer": "ISAC caseworker Nadia Rahman",
                "grounds": ["professional_judgement"],
                "dash": {
                    "answers": DASH_ANSWERS,
                    "ticks": 9,
                    "completed_at": "2026-11-25T10:15:00Z",
                },
                "high_risk": True,
                "children_in_household": 0,
                "consent": {
                    "status": "refused",
                    "recorded_at": "2026-11-25T10:20:00Z",
                    "justification": "risk-of-serious-harm: the victim refuses, but access to "
                    "firearms was disclosed; DPA 2018 Sch 8 para 4 and Crime and Disorder "
                    "Act 1998 s115",
                },
                "reason": "Victim minimises the risk; perpetrator has located her new "
                "workplace and access to a shotgun licence was disclosed",
            },
            "risk": {
                "tool": "DASH",
                "level": "high",
                "score": 9,
                "assessed_at": "2026-11-25T10:15:00Z",
            },
        },
    },
}

SUICIDAL_IDEATION = {
    # suicidal-ideation-to-crisis-line, under vital interests: who he is and the
    # alert; not the clinical summary.
    "nhs-crisis-line": envelope(
        CWP, "urgent_alert", "preventing-harm-to-life", "HRU-2026-0142", "immediate"
    )
    | {
        "subjects": [
            {
                "ref": "P1",
                "role": "patient",
                "identifiers": [{"system": "nhs_number", "value": "9990001006"}],
                "name": DANIEL,
                "date_of_birth": "1985-03-02",
            }
        ],
        "payload": {
            "alert": {
                "kind": "suicidal_ideation",
                "indicators": [],
                "detail": "Expressed suicidal thoughts during crisis call; said he has "
                "nothing left if the order is made",
                "raised_at": "2026-11-26T07:45:00Z",
                "raised_by": "Crisis Resolution and Home Treatment Team, CWP",
                "valid_until": "2026-11-27T07:45:00Z",
            }
        },
    },
}

MAPPA_CO = "cheshire-mappa"
MAPPA_OUTCOME_TEXT = (
    "Managed at level 2: multi-agency plan agreed; recall to be considered on any "
    "further contact with the victim"
)
MEETING = {"forum": "mappa", "meeting_id": "MAPPA-CHE-L2-2026-11-25-04", "held_on": "2026-11-25"}
MEETING_OUTCOME = {
    # mappa-outcome-and-actions-to-police: the level, the outcome, and the one
    # action the police own.
    "cheshire-police": envelope(MAPPA_CO, "meeting_feed", MAPPA, "HRU-2026-0142")
    | {
        "subjects": [
            {
                "ref": "O1",
                "role": "offender",
                "identifiers": [MARSH_CRN, MARSH_NOMS],
                "name": DANIEL,
            }
        ],
        "payload": {
            "mappa": {
                "category": 2,
                "level": 2,
                "previous_category": 2,
                "previous_level": 1,
                "effective_from": "2026-11-25",
                "lead_agency": "Probation Service",
                "meeting_on": "2026-11-25",
                "meeting_outcome": MAPPA_OUTCOME_TEXT,
                "next_review_on": "2026-12-23",
            },
            "meeting": MEETING
            | {
                "outcomes": [MAPPA_OUTCOME_TEXT],
                "actions": [
                    {
                        "action_id": "2",
                        "case_reference": "HRU-2026-0142",
                        "owner": "Cheshire Constabulary",
                        "description": "Victim Focus Unit to update the victim on the SPO "
                        "application",
                        "due_on": "2026-11-28",
                        "status": "open",
                    }
                ],
            },
        },
    },
    # mappa-actions-to-health: the trust's own action, and who it is about.
    "cwp-mental-health": envelope(MAPPA_CO, "meeting_feed", MAPPA, "HRU-2026-0142")
    | {
        "subjects": [{"ref": "O1", "role": "offender", "name": DANIEL}],
        "payload": {
            "meeting": MEETING
            | {
                "actions": [
                    {
                        "action_id": "3",
                        "case_reference": "HRU-2026-0142",
                        "owner": "Cheshire and Wirral Partnership",
                        "description": "Share engagement with the fACT intervention before "
                        "the next review",
                        "due_on": "2026-12-16",
                        "status": "open",
                    }
                ]
            },
        },
    },
}

#: sample -> (format, sender, media type, each recipient's copy, recipients unrouted)
SAMPLES: dict[str, tuple[str, str, str, dict[str, dict[str, Any]], list[str]]] = {
    "police/stalking-crime.json": ("police", POLICE, "application/json", STALKING_CRIME, []),
    "police/stalking-crime-two-purposes.json": (
        "police",
        POLICE,
        "application/json",
        TWO_PURPOSES,
        [],
    ),
    "police/arrest-custody.json": ("police", POLICE, "application/json", ARREST_CUSTODY, []),
    "police/conditional-caution.json": (
        "police",
        POLICE,
        "application/json",
        CONDITIONAL_CAUTION,
        [],
    ),
    "police/spo-granted.json": (
        "police",
        POLICE,
        "application/json",
        SPO_GRANTED,
        ["probation-spoc-north", "probation-spoc-east", "probation-spoc-west"],
    ),
    "fhir/fact-engagement-collection.json": (
        "fhir",
        CWP,
        "application/fhir+json",
        FACT_ENGAGEMENT,
        [],
    ),
    "fhir/victim-support-with-consent.json": (
        "fhir",
        CWP,
        "application/fhir+json",
        VICTIM_SUPPORT,
        [],
    ),
    "fhir/suicidal-ideation-alert-message.json": (
        "fhir",
        CWP,
        "application/fhir+json",
        SUICIDAL_IDEATION,
        [],
    ),
    "probation/licence-compliance.json": (
        "probation",
        NORTH,
        "application/json",
        LICENCE_COMPLIANCE,
        [],
    ),
    "probation/mappa-level-change.json": (
        "probation",
        NORTH,
        "application/json",
        MAPPA_LEVEL_CHANGE,
        [],
    ),
    "marac/referral-without-consent.json": (
        "marac",
        POLICE,
        "application/json",
        REFERRAL_WITHOUT_CONSENT,
        [],
    ),
    "mappa/meeting-outcome.json": (
        "mappa",
        MAPPA_CO,
        "application/json",
        MEETING_OUTCOME,
        # probation owns action 1, but a MAPPA feed names no PDU or address for him
        ["probation-spoc-north", "probation-spoc-east", "probation-spoc-west"],
    ),
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_each_recipient_receives_the_copy_written_out_by_hand(gateway, sample):
    fmt, sender, media_type, copies, unrouted = SAMPLES[sample]
    with gateway.client(sender) as client:
        response = client.post(
            f"/v1/inbound/{fmt}",
            content=(ROOT / "examples" / sample).read_bytes(),
            headers={"Content-Type": media_type},
        )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert sorted(answer["recipients"]) == sorted(copies), "who receives a copy"
    assert sorted(answer.get("unrouted", [])) == sorted(unrouted), "who is unrouted"
    exchange_id = answer["exchange_id"]
    gateway.wait_drained()
    for recipient, expected in copies.items():
        topic = (
            f"{gateway.runtime.settings.topic_prefix}.v1.urgent.{recipient}"
            if expected["urgency"] != "routine"
            else gateway.topic(recipient)
        )
        got = [
            m["value"]["record"]
            for m in read_topic(gateway.bootstrap, topic, exchange_id=exchange_id, expect=0)
            if m["headers"]["recipient"] == recipient
        ]
        assert len(got) == 1, f"{recipient} should receive exactly one copy"
        record = dict(got[0])
        assert record.pop("exchange_id") == exchange_id
        assert record.pop("submitted_at")
        assert record == expected, f"{recipient}'s copy of {sample}"


def test_at_least_ten_samples_are_checked_by_hand():
    assert len(SAMPLES) >= 10
    assert sum(len(copies) for _, _, _, copies, _ in SAMPLES.values()) >= 15
