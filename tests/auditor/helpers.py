"""The auditor's gateway: people's sign-in at a real OpenID Connect provider (as the
inbox's tests have it), with an auditor and a data protection officer added, and
sample exchanges submitted by the partners' own systems."""

from __future__ import annotations

import httpx

from gateway.errors import PROBLEM_BASE
from tests.conftest import EXAMPLES
from tests.inbox.helpers import InboxGateway

AUDITOR = "oidc|audit|auditor"
DPO = "oidc|audit|dpo"
SPOC = "oidc|cwp|duty-manager"  # a person without an audit role
#: The police sample's suspect (examples/police/stalking-crime.json) and victim.
SUSPECT_PNC = "12/345678A"
POLICE_SAMPLE = EXAMPLES / "police" / "stalking-crime.json"
#: What identifies the sample records' people; no audit entry may hold any of it.
PERSONAL = (
    "12/345678A",
    "Daniel",
    "Marsh",
    "1985-03-02",
    "14 Canal Street",
    "WA1 1AA",
    "Sarah",
    "Keane",
    "1990-07-15",
    "2 Elm Close",
    "WA7 2BB",
    "Mobile via advocate only",
    "9990001006",
    "Repeated unwanted messages",
)


def add_auditors(issuer: str) -> None:
    people = {
        AUDITOR: {"email": "auditor@hru.example", "roles": ["ISG.Auditor"], "name": "Ada Auditor"},
        DPO: {"email": "dpo@hru.example", "roles": ["ISG.Dpo"], "name": "Dev Dpo"},
    }
    for sub, claims in people.items():
        answer = httpx.put(f"{issuer}/users/{sub}", json=claims, timeout=10)
        assert answer.status_code == 204, answer.text


def submit_police(running: InboxGateway) -> str:
    """The police sample, submitted by the force's system: its exchange id."""
    answer = httpx.post(
        f"{running.base_url}/v1/inbound/police",
        content=POLICE_SAMPLE.read_bytes(),
        headers={"Content-Type": "application/json", **running.gateway.auth("cheshire-police")},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["exchange_id"])


def problem(answer: httpx.Response, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == PROBLEM_BASE + slug
    return body


def csrf_headers(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}
