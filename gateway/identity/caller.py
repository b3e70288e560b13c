"""The caller of a request, as every endpoint and audit entry sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

#: What a partner system's token may allow.
SUBMIT = "submit"
READ_EXCHANGES = "exchanges:read"
READ_DELIVERIES = "deliveries:read"
ACKNOWLEDGE = "acknowledge"
PARTNER_SCOPES = (SUBMIT, READ_EXCHANGES, READ_DELIVERIES, ACKNOWLEDGE)


@dataclass(frozen=True)
class Caller:
    """A partner system (``client_id`` and the ``partner`` it belongs to) or a person
    signed in (``person``, with the ``roles`` the identity provider's claim maps to).
    """

    client_id: str | None = None
    partner: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    #: The formats a partner system may submit, from its registration.
    formats: frozenset[str] = field(default_factory=frozenset)
    person: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """How the audit trail names who acted: the person where one did."""
        if self.person is not None:
            return f"person:{self.person}"
        return f"client:{self.client_id}"

    def may(self, scope: str) -> bool:
        return scope in self.scopes
