"""Stage 2, validate: checks that need the agreement or cross several fields.

Shape and types were checked by the adapter and the contract; here we check
what only the gateway knows (is the purpose one the agreement names?) and what
spans fields (identifier check digits).
"""

from __future__ import annotations

from contracts import Exchange, IdentifierSystem, nhs_number_is_valid
from gateway.errors import FieldProblem, InvalidRecord
from gateway.policy import PolicyBundle


def validate(exchange: Exchange, bundle: PolicyBundle, record: int | None = None) -> None:
    problems = []
    if exchange.purpose not in bundle.purposes:
        known = ", ".join(sorted(bundle.purposes))
        problems.append(
            FieldProblem("purpose", f"unknown purpose {exchange.purpose!r}; known: {known}", record)
        )
    for i, subject in enumerate(exchange.subjects):
        for j, identifier in enumerate(subject.identifiers):
            if identifier.system == IdentifierSystem.NHS_NUMBER and not nhs_number_is_valid(
                identifier.value
            ):
                problems.append(
                    FieldProblem(
                        f"subjects[{i}].identifiers[{j}].value",
                        "NHS number fails its modulus 11 check",
                        record,
                    )
                )
    if problems:
        raise InvalidRecord("the record is not valid for this agreement", problems)
