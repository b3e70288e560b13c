"""What every partner adapter provides.

An adapter owns one native format: it parses a partner's request body into
canonical :class:`~contracts.Exchange` records (``parse``) and renders a
minimised canonical record back into that format for recipients who want it
(``render``). Nothing outside an adapter branches on the format.

Each adapter package has the same shape: ``native.py`` (pydantic models of the
native format), ``mapping.py`` (native <-> canonical), ``__init__.py`` (the
adapter class tying them together).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ValidationError

from contracts import Exchange
from gateway.errors import FieldProblem, InvalidRecord, MalformedBody, UnsupportedMediaType


@dataclass(frozen=True)
class IngestContext:
    """Facts about a submission that come from the transport, not the body."""

    source_partner: str
    received_at: datetime


@dataclass(frozen=True)
class Parsed:
    """What an adapter made of one request body.

    ``items`` holds, in input order, a canonical exchange for every good record
    and an :class:`InvalidRecord` for every bad one. A single-record format
    raises instead of returning an error item; a batch format (``batch=True``)
    reports bad rows here so the good ones still go through.
    """

    items: list[Exchange | InvalidRecord]
    batch: bool = False


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str


class Adapter(ABC):
    """Base class for partner adapters; subclasses register via entry points."""

    #: URL segment and registry key, e.g. ``police`` in ``/v1/inbound/police``.
    name: ClassVar[str]
    #: Content types ``parse`` accepts; the first is what ``render`` produces.
    media_types: ClassVar[tuple[str, ...]] = ("application/json",)
    #: One-line description for listings and docs.
    summary: ClassVar[str] = ""

    def check_media_type(self, media_type: str | None) -> str:
        base = (media_type or "").split(";")[0].strip().lower()
        if base not in self.media_types:
            raise UnsupportedMediaType(
                f"the {self.name} adapter reads {', '.join(self.media_types)}; "
                f"got {base or 'no content type'}"
            )
        return base

    @abstractmethod
    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        """Turn a request body into canonical exchanges, or raise a ClientError."""

    @abstractmethod
    def render(self, record: dict[str, Any]) -> Rendered:
        """Render a (possibly minimised) canonical record in the native format."""


def load_json(body: bytes) -> Any:
    """Parse JSON or raise MalformedBody with the position of the fault."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def location(loc: Sequence[int | str]) -> str:
    """Render a pydantic error location as a dotted path: ``persons[0].pnc_id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(record)"


def problems_from(exc: ValidationError, record: int | str | None = None) -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(FieldProblem(field=location(err["loc"]), message=message, record=record))
    return problems


def invalid(exc: ValidationError, what: str, record: int | str | None = None) -> InvalidRecord:
    return InvalidRecord(f"the {what} is not valid", problems_from(exc, record))
