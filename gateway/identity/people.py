"""People signed in with OpenID Connect: their roles, and who a request's session names.

The identity provider says who a person is; the partnership's configuration
says what each of the provider's role values means here (``oidc_role_map``).
A value the map does not name gives no role: a person the provider knows is
not, by that alone, anyone the gateway trusts. The session (a signed cookie,
installed by ``gateway.api.sign_in``) holds the person's subject, name and
roles, when the sign-in expires, and a CSRF token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Depends, Request

from gateway.errors import NotSignedIn, RoleRequired
from gateway.identity.caller import Caller

SPOC = "spoc"
DUTY = "duty"
GOVERNANCE = "governance"
AUDITOR = "auditor"
DPO = "dpo"
#: The coordinating team: routes by hand the records no flow could route by place.
COORDINATOR = "coordinator"
#: The roles a person can hold at the gateway.
ROLES = (SPOC, DUTY, GOVERNANCE, AUDITOR, DPO, COORDINATOR)

#: The session's keys.
PERSON = "person"
CSRF = "csrf_token"


def map_roles(claims: Mapping[str, Any], claim: str, role_map: Mapping[str, str]) -> frozenset[str]:
    """Our roles for the provider's ``claim`` (a list of values, or one value).

    Values the map does not name are ignored, as is a claim of another shape.
    """
    value = claims.get(claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return frozenset(role_map[v] for v in values if isinstance(v, str) and v in role_map)


def unknown_roles(role_map: Mapping[str, str]) -> list[str]:
    """The map's targets that are not roles of ours (a configuration mistake)."""
    return sorted({role for role in role_map.values() if role not in ROLES})


def session_person(
    claims: Mapping[str, Any], roles: frozenset[str], max_age_seconds: int
) -> dict[str, Any]:
    """What the session keeps about a person who just signed in. The sign-in ends
    ``max_age_seconds`` later even if the cookie is kept alive by use."""
    name = claims.get("name") or claims.get("preferred_username") or claims.get("email")
    email = claims.get("email")
    return {
        "sub": str(claims["sub"]),
        "name": str(name) if name else None,
        # Desks are staffed by subject or email (gateway.routing); an address the
        # provider says it has not verified names no one.
        "email": email
        if isinstance(email, str) and claims.get("email_verified") is not False
        else None,
        "roles": sorted(roles),
        "expires_at": int(time.time()) + max_age_seconds,
    }


def signed_in(request: Request) -> dict[str, Any] | None:
    """The session's person, unless there is none or their sign-in has expired."""
    if "session" not in request.scope:  # people's sign-in is not installed
        return None
    person = request.session.get(PERSON)
    if not isinstance(person, dict) or not isinstance(person.get("sub"), str):
        return None
    expires_at = person.get("expires_at")
    if not isinstance(expires_at, int) or time.time() >= expires_at:
        return None
    return person


def caller_of(person: Mapping[str, Any]) -> Caller:
    return Caller(person=person["sub"], roles=frozenset(person.get("roles") or ()))


def current_person(request: Request) -> Caller:
    """FastAPI dependency: the signed-in person, or 401."""
    person = signed_in(request)
    if person is None:
        raise NotSignedIn("sign in first: GET /auth/login")
    return caller_of(person)


def require_role(*roles: str) -> Callable[[Caller], Caller]:
    """FastAPI dependency: the signed-in person holding one of ``roles``, or 403."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        raise ValueError(f"not roles of the gateway: {unknown or 'none given'}")

    def dependency(caller: Caller = Depends(current_person)) -> Caller:
        if not caller.roles & set(roles):
            raise RoleRequired(f"this needs the role {' or '.join(roles)}")
        return caller

    return dependency
