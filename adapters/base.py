"""What every partner adapter provides.

An adapter owns one native format: it parses a partner's request body into
canonical :class:`~contracts.Exchange` records (``parse``) and renders a
minimised canonical record back into that format for recipients who want it
(``render``, or just ``to_native`` for a JSON format: the default ``render``
serialises its document). Nothing outside an adapter branches on the format.

Each adapter package has the same shape: ``native.py`` (pydantic models of the
native format), ``mapping.py`` (native <-> canonical), ``__init__.py`` (the
adapter class tying them together). What two adapters share lives here or
in another kit module beside it (``meetings.py``), never in an adapter: no
adapter imports another (``tests/adapters/test_boundaries.py``).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts import (
    CRN_PATTERN,
    MAX_PURPOSES,
    NOMS_PATTERN,
    Exchange,
    Identifier,
    IdentifierSystem,
    PersonName,
    nhs_number_is_valid,
)
from gateway.errors import (
    BatchTooLarge,
    FieldProblem,
    InvalidRecord,
    MalformedBody,
    UnsupportedMediaType,
    field_path,
)

_M = TypeVar("_M", bound="BaseModel")
_T = TypeVar("_T")


class NativeModel(BaseModel):
    """Base of every partner format's models: an unknown field is an error (a
    typo must not pass as an absent value), and text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_PURPOSE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def check_purpose_id(value: str) -> str:
    """A purpose is an id of the agreement; say so plainly rather than quote a regex."""
    if not _PURPOSE_ID.match(value) or len(value) > 64:
        raise ValueError(
            f"{value!r} is not a purpose id: use an id from the agreement, e.g. "
            "'stalking-risk-management' (lower-case letters, digits and hyphens, at most 64)"
        )
    return value


#: One purpose id as a native format carries it.
NativePurposeId = Annotated[str, AfterValidator(check_purpose_id)]


def check_crn(value: str) -> str:
    if not CRN_PATTERN.match(value):
        raise ValueError("a CRN is a letter followed by six digits, e.g. X123456")
    return value


def check_noms_number(value: str) -> str:
    if not NOMS_PATTERN.match(value):
        raise ValueError("a NOMS number is a letter, four digits and two letters, e.g. A1234BC")
    return value


def check_nhs_number(value: str) -> str:
    """Spaces as people write it ("999 000 1006") are dropped once the check passes."""
    if not nhs_number_is_valid(value):
        raise ValueError("not a valid NHS number (modulus 11 check failed)")
    return value.replace(" ", "")


#: Identifiers as native formats carry them, each checked with a plain message.
NativeCrn = Annotated[str, AfterValidator(check_crn)]
NativeNomsNumber = Annotated[str, AfterValidator(check_noms_number)]
NativeNhsNumber = Annotated[str, AfterValidator(check_nhs_number)]


def merge_purposes(purpose: str | None, purposes: list[str]) -> list[str]:
    """``purpose`` first, then ``purposes``; naming the single one again in the list is
    harmless (a rendering may), but a list naming one purpose twice is a mistake."""
    seen = set()
    for value in purposes:
        if value in seen:
            raise ValueError(f"purpose {value!r} is listed twice")
        seen.add(value)
    merged = ([purpose] if purpose else []) + [p for p in purposes if p != purpose]
    if len(merged) > MAX_PURPOSES:
        raise ValueError(f"at most {MAX_PURPOSES} purposes; {len(merged)} declared")
    return merged


class DeclaredPurposes(NativeModel):
    """The purposes a native record declares: ``purpose`` (one), ``purposes`` (several),
    both or neither. Neither is allowed: the sender's registration in the agreement
    then gives the defaults for the record's category (or the gateway refuses it)."""

    purpose: NativePurposeId | None = Field(
        default=None, description="The purpose the record is shared for (the main one)."
    )
    purposes: list[NativePurposeId] = Field(
        default_factory=list, description="Further purposes, or all of them."
    )

    @model_validator(mode="after")
    def _purposes_once(self) -> DeclaredPurposes:
        merge_purposes(self.purpose, self.purposes)
        return self

    def declared(self) -> list[str]:
        """Every purpose declared, main one first; empty when the record names none."""
        return merge_purposes(self.purpose, self.purposes)


def record_purposes(record: dict[str, Any]) -> list[str]:
    """A canonical record's purposes (a recipient's copy has the one it was permitted under)."""
    purposes = list(record.get("purposes") or [])
    single = record.get("purpose")
    if single and single not in purposes:
        purposes.insert(0, single)
    return purposes


def native_purposes(record: dict[str, Any]) -> dict[str, Any]:
    """The native ``purpose`` / ``purposes`` fields for a canonical record: the single
    form when there is one purpose (a recipient's copy), the list when there are more."""
    purposes = record_purposes(record)
    if len(purposes) == 1:
        return {"purpose": purposes[0]}
    return {"purposes": purposes} if purposes else {}


#: The most rows one batch request may carry; the daily screening is hundreds.
MAX_BATCH_ROWS = 1000


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
    returns exactly one exchange and raises instead of returning an error item;
    a batch format (``batch=True``) reports bad rows here so the good ones
    still go through.
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
    #: Categories ``render`` can express in the native format; None means any.
    #: Delivery should send canonical JSON to a recipient whose format cannot
    #: carry a record (a police crime format has no place for health data).
    render_categories: ClassVar[frozenset[str] | None] = None

    def can_render(self, record: dict[str, Any]) -> bool:
        """Whether ``render`` can express this (canonical, possibly minimised) record."""
        return self.render_categories is None or record.get("category") in self.render_categories

    def check_media_type(self, media_type: str | None) -> str:
        """The body's media type without parameters, or UnsupportedMediaType."""
        base = (media_type or "").split(";")[0].strip().lower()
        if base not in self.media_types:
            raise UnsupportedMediaType(
                f"the {self.name} adapter reads {', '.join(self.media_types)}; "
                f"got {base or 'no content type'}"
            )
        return base

    def read_json(self, body: bytes, media_type: str | None, what: str) -> dict[str, Any]:
        """Check the media type and read a body that must be one JSON object.

        ``what`` names the document in the error, e.g. ``"a marac/1 document"``.
        """
        self.check_media_type(media_type)
        return load_json_object(body, what)

    @abstractmethod
    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        """Turn a request body into canonical exchanges, or raise a ClientError."""

    def render(self, record: dict[str, Any]) -> Rendered:
        """Render a (possibly minimised) canonical record in the native format.

        By default the :meth:`to_native` document as JSON, typed with the
        first of :attr:`media_types`; a format that is not JSON overrides this.
        """
        return json_rendering(self.to_native(record), self.media_types[0])

    def to_native(self, record: dict[str, Any]) -> Any:
        """The native JSON document for a canonical record, as the default ``render`` writes it.

        An adapter defines this or ``render``; the registry refuses one with neither.
        """
        raise NotImplementedError(f"the {self.name} adapter defines neither to_native nor render")


def collect_identifiers(
    *pairs: tuple[IdentifierSystem, str | None], local_issuer: str | None = None
) -> list[Identifier]:
    """The identifiers a native record carries, in order, skipping absent ones.

    A local identifier is issued by ``local_issuer`` (the sending format)."""
    return [
        Identifier(
            system=system,
            value=value,
            issuer=local_issuer if system == IdentifierSystem.LOCAL else None,
        )
        for system, value in pairs
        if value
    ]


def person_name(forename: str | None, surname: str | None) -> PersonName | None:
    return PersonName(given=forename, family=surname) if forename or surname else None


def identifier_values(subject: dict[str, Any]) -> dict[str, Any]:
    """A canonical subject's identifiers by system (``pnc_id``, ``crn``, ...), for rendering."""
    return {i.get("system"): i.get("value") for i in subject.get("identifiers") or []}


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
    except RecursionError:
        raise MalformedBody("body is nested too deeply to be a partner record") from None


def load_json_object(body: bytes, what: str) -> dict[str, Any]:
    """Parse JSON that must be one object, or raise MalformedBody naming ``what`` it should be."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise MalformedBody(f"{what} is a JSON object")
    return data


def problems_from(exc: ValidationError, record: int | str | None = None) -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(FieldProblem(field=field_path(err["loc"]), message=message, record=record))
    return problems


def invalid(exc: ValidationError, what: str, record: int | str | None = None) -> InvalidRecord:
    return InvalidRecord(f"the {what} is not valid", problems_from(exc, record))


def batch_too_large(limit: int, rows: int | str, noun: str = "records") -> BatchTooLarge:
    """The error for a batch of ``rows`` records (a count, or "more than N" when
    counting stopped at the limit); a FHIR Bundle counts ``entries``."""
    return BatchTooLarge(
        f"the batch has {rows} {noun}; at most {limit} are accepted in one request",
        [FieldProblem(field="(batch)", message=f"{rows} {noun} exceeds the limit of {limit}")],
    )


def check_batch_size(rows: int, limit: int = MAX_BATCH_ROWS, noun: str = "records") -> None:
    """Refuse a whole batch before looking at its rows when it is over the limit."""
    if rows > limit:
        raise batch_too_large(limit, rows, noun)


#: Control characters (Unicode's Cc) but tab, line feed and carriage return: no
#: partner's text carries one, and a NUL cannot even be stored in PostgreSQL text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problems(
    data: Any, record: int | str | None = None, prefix: str = "", skip: Collection[str] = ()
) -> list[FieldProblem]:
    """A problem for each text in ``data`` (parsed JSON, or a CSV row) holding a control
    character, naming its field (``persons[0].surname``); ``skip`` names top-level keys
    left to be checked one record at a time (a batch's rows)."""
    problems: list[FieldProblem] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            found = _CONTROL.search(value)
            if found:
                code = f"U+{ord(found.group()):04X}"
                message = f"control character {code} is not allowed in text"
                problems.append(FieldProblem(path or "(record)", message, record))
        elif isinstance(value, dict):
            for key, item in value.items():
                if not (path == prefix and key in skip):
                    walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(data, prefix)
    return problems


def check_text(
    data: Any,
    what: str,
    record: int | str | None = None,
    prefix: str = "",
    skip: Collection[str] = (),
) -> None:
    """Refuse ``data`` (an InvalidRecord naming each field) if a text holds a control character."""
    problems = control_character_problems(data, record, prefix, skip)
    if problems:
        raise InvalidRecord(f"the {what} is not valid", problems)


def validate_native(
    model: type[_M],
    data: Any,
    what: str,
    record: int | str | None = None,
    skip: Collection[str] = (),
) -> _M:
    """Validate a native record, turning pydantic's errors into an InvalidRecord; a text
    with a control character is refused first. ``skip``: top-level keys whose values
    are rows, each checked on its own later (one bad row must not refuse the batch)."""
    check_text(data, what, record, skip=skip)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, what, record) from None


def drop_empty(value: _T) -> _T:
    """Remove None values and empty containers, so renderings carry only what was sent."""
    if isinstance(value, dict):
        cleaned = {k: drop_empty(v) for k, v in value.items()}
        return cast(_T, {k: v for k, v in cleaned.items() if v is not None and v != {} and v != []})
    if isinstance(value, list):
        return cast(_T, [drop_empty(v) for v in value])
    return value


def json_rendering(native: Any, media_type: str = "application/json") -> Rendered:
    return Rendered(json.dumps(native, sort_keys=True, ensure_ascii=False).encode(), media_type)


def build_canonical(
    build: Callable[[], Exchange], what: str, record: int | str | None = None
) -> Exchange:
    """Build a canonical exchange; a rule the contract enforces becomes this record's error."""
    try:
        return build()
    except ValidationError as exc:
        raise invalid(exc, f"{what} (canonical form)", record) from None
