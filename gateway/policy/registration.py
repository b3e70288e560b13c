"""A sender's registration: what its records mean when they leave something unsaid.

Applied before a record is decided, wherever it is decided (the pipeline, the
policy tests, explain), so every path reads the same record.
"""

from __future__ import annotations

from contracts import Exchange, SubjectRole
from gateway.policy.bundle import PolicyBundle


def apply_registration(exchange: Exchange, bundle: PolicyBundle) -> None:
    """Give a record without purposes the sender's defaults for its category, and a
    subject known only as 'patient' the role the sender registered for its patients."""
    party = bundle.parties.get(exchange.source_partner)
    if party is None:
        return
    registration = party.registration
    if not exchange.purposes and exchange.category in registration.purposes:
        exchange.declare_purposes(registration.purposes[exchange.category])
    if registration.patient_role is not None:
        for subject in exchange.subjects:
            if subject.role is SubjectRole.PATIENT:
                subject.role = registration.patient_role
