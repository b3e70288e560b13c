"""Marks on contract fields that policy must honour whatever a flow allows.

A mark is declared on a field in ``contracts/v1.py`` (``json_schema_extra``)
and shows in the exported JSON Schema as ``x-isg-marks``, so the policy engine,
an editor and a reviewer all see the same thing:

- ``special_category``: health data (UK GDPR Art 9); crosses only where the
  agreement names an Art 9 condition, and only the minimum.
- ``victim_location``: a victim's address and safe contact; never sent to a
  perpetrator-facing recipient.
- ``restricted_access``: a probation restricted/excluded case mark; only the
  named staff may see the case.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel

from contracts.paths import unwrap_annotation

MARKS_KEY = "x-isg-marks"


class Mark(StrEnum):
    SPECIAL_CATEGORY = "special_category"
    VICTIM_LOCATION = "victim_location"
    RESTRICTED_ACCESS = "restricted_access"
    #: Typed by a person: may hold anything, health details included (possibly Art 9).
    FREE_TEXT = "free_text"


def mark(*marks: Mark) -> dict[str, Any]:
    """The ``json_schema_extra`` that declares ``marks`` on a field."""
    return {MARKS_KEY: [str(m) for m in marks]}


@cache
def marked_paths(model: type[BaseModel], wanted: Mark) -> frozenset[str]:
    """Field paths of ``model`` (as :func:`contracts.field_paths` names them) marked ``wanted``.

    A marked section's children are not listed: the mark covers the section.
    """
    found: set[str] = set()

    def walk(current: type[BaseModel], prefix: str) -> None:
        for name, info in current.model_fields.items():
            inner, is_list = unwrap_annotation(info.annotation)
            path = f"{prefix}{name}" + ("[]" if is_list else "")
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            marks = extra.get(MARKS_KEY)
            if isinstance(marks, list) and str(wanted) in marks:
                found.add(path)
                continue
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, path + ".")

    walk(model, "")
    return frozenset(found)
