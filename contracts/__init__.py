"""The canonical contracts every adapter maps to and every policy speaks of."""

from contracts.paths import field_paths, leaf_paths
from contracts.v1 import (
    CONTRACT_VERSION,
    Address,
    Category,
    CrimeSection,
    Exchange,
    Identifier,
    IdentifierSystem,
    Offence,
    Payload,
    PersonName,
    RiskLevel,
    RiskSection,
    RiskTool,
    Subject,
    SubjectRole,
    Urgency,
    nhs_number_is_valid,
)

__all__ = [
    "CONTRACT_VERSION",
    "Address",
    "Category",
    "CrimeSection",
    "Exchange",
    "Identifier",
    "IdentifierSystem",
    "Offence",
    "Payload",
    "PersonName",
    "RiskLevel",
    "RiskSection",
    "RiskTool",
    "Subject",
    "SubjectRole",
    "Urgency",
    "field_paths",
    "leaf_paths",
    "nhs_number_is_valid",
]
