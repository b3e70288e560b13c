"""Canonical field paths as the policy language uses them.

A path names a field of :class:`contracts.Exchange` the way
:func:`contracts.field_paths` does (``subjects[].identifiers[].value``); the
trailing ``[]`` of a list may be left off. Internally a path is a tuple of bare
names (``('subjects', 'identifiers', 'value')``) because records are walked by
key, and every list is stepped through item by item.
"""

from __future__ import annotations

import typing
from enum import Enum
from functools import cache

from pydantic import BaseModel

from contracts import Exchange, field_paths, leaf_paths
from contracts.marks import Mark, marked_paths
from contracts.paths import unwrap_annotation

Segments = tuple[str, ...]

#: Envelope fields every recipient gets: they say what the message is, not who.
ENVELOPE_PATHS = (
    "contract_version",
    "exchange_id",
    "source_partner",
    "submitted_at",
    "category",
    "purpose",
    "purposes",
    "urgency",
)


def is_envelope(path: str) -> bool:
    """Whether a (leaf) path is one of the envelope's, which every copy carries."""
    return segments(path)[0] in ENVELOPE_PATHS


def segments(path: str) -> Segments:
    return tuple(part.removesuffix("[]") for part in path.split("."))


@cache
def canonical_names() -> dict[Segments, str]:
    """Bare segments -> the canonical spelling with ``[]`` on lists."""
    return {segments(p): p for p in field_paths(Exchange)}


def is_known(path: str) -> bool:
    return segments(path) in canonical_names()


def canonical(path: str) -> str:
    return canonical_names().get(segments(path), path)


def covers(outer: Segments, inner: Segments) -> bool:
    """``outer`` is ``inner`` or one of its sections."""
    return inner[: len(outer)] == outer


def overlaps(a: Segments, b: Segments) -> bool:
    return covers(a, b) or covers(b, a)


@cache
def leaves() -> tuple[Segments, ...]:
    return tuple(sorted(segments(p) for p in leaf_paths(Exchange)))


@cache
def marked(mark: Mark) -> tuple[Segments, ...]:
    return tuple(sorted(segments(p) for p in marked_paths(Exchange, mark)))


def leaf_type(path: str) -> object | None:
    """The Python type a path holds (an Enum, str, int, date, a model ...)."""
    model: object = Exchange
    for name in segments(path):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(name)
        if info is None:
            return None
        model, _ = unwrap_annotation(info.annotation)
    return model


def allowed_values(path: str) -> list[str] | None:
    """The values an enum or literal field may take, or None if it is open."""
    kind = leaf_type(path)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return [str(m.value) for m in kind]
    if typing.get_origin(kind) is typing.Literal:
        return [str(v) for v in typing.get_args(kind)]
    return None
