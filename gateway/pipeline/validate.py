"""Stage 2, validate: checks that need the agreement or cross several fields.

Shape and types were checked by the adapter and the contract; here the
sender's registration fills in what the record left unsaid (its purposes, a
patient's role), then we check what only the gateway knows (is each purpose
one the agreement names, and not one kept for the gateway's own exports?) and
what spans fields (identifier check digits).
"""

from __future__ import annotations

from contracts import Exchange, IdentifierSystem, nhs_number_is_valid
from gateway.errors import FieldProblem, InvalidRecord
from gateway.policy import PolicyBundle
from gateway.policy.registration import apply_registration


def validate(exchange: Exchange, bundle: PolicyBundle, record: int | None = None) -> None:
    apply_registration(exchange, bundle)
    problems = []
    known = ", ".join(sorted(bundle.purposes))
    if not exchange.purposes:
        problems.append(
            FieldProblem(
                "purposes",
                f"the record declares no purpose and the sender's registration gives none "
                f"for {exchange.category}; declare one or more of: {known}",
                record,
            )
        )
    for i, purpose in enumerate(exchange.purposes):
        if purpose not in bundle.purposes:
            problems.append(
                FieldProblem(
                    f"purposes[{i}]", f"unknown purpose {purpose!r}; known: {known}", record
                )
            )
        elif bundle.purposes[purpose].export_only:
            problems.append(
                FieldProblem(
                    f"purposes[{i}]",
                    f"purpose {purpose!r} is for the gateway's own exports (the evaluation "
                    "export), never a partner's record",
                    record,
                )
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
