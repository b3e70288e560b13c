"""The field catalogue: every field path of the canonical record, in words.

A governance lead writes policies in field paths (``payload.crime.summary``);
this page says what each one means, what it holds, which section it sits in
and whether it is special category (UK GDPR Art 9) or free text, without
reading ``contracts/v1.py``. ``docs/fields.md`` is generated from the contract
(``gateway policy catalogue --output docs/fields.md``) and a test fails when it
is stale.

Free text is prose a person typed: it may hold health details whatever its
section, so a policy should treat it as possibly special category. The
contract declares it with a ``free_text`` mark where it has one; until then the
fields named in :data:`FREE_TEXT_NAMES` are taken as free text.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from contracts import MARKS_KEY, MAX_TEXT, Exchange, Mark

DEFAULT_OUTPUT = Path("docs/fields.md")

#: Field names that hold prose: a summary, a rationale, notes, a reason.
FREE_TEXT_NAMES = frozenset(
    {
        "summary",
        "detail",
        "notes",
        "reason",
        "rationale",
        "justification",
        "meeting_outcome",
        "outcomes",
        "text",
        "description",
        "value",
    }
)

_SCALARS: dict[object, str] = {
    str: "text",
    int: "whole number",
    bool: "yes/no",
    dt.date: "date",
    dt.datetime: "date and time",
    uuid.UUID: "UUID",
}


@dataclass(frozen=True)
class Entry:
    """One field path of the contract, as the catalogue page lists it."""

    path: str
    meaning: str
    kind: str
    section: str
    special_category: bool
    free_text: bool
    marks: tuple[str, ...]


def _base(annotation: object) -> tuple[object, bool, FieldInfo | None]:
    """The field's type without Optional/Annotated, whether it is a list, its item limits."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        base, is_list, _ = _base(inner)
        limits = next((m for m in meta if isinstance(m, FieldInfo)), None)
        return base, is_list, limits
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _base(args[0])
    if origin is list:
        (item,) = typing.get_args(annotation)
        base, _, limits = _base(item)
        return base, True, limits
    return annotation, False, None


def _max_length(*infos: FieldInfo | None) -> int | None:
    for info in infos:
        for meta in info.metadata if info else ():
            if isinstance(meta, MaxLen):
                return meta.max_length
    return None


def _item_and_field(info: FieldInfo) -> tuple[FieldInfo | None, ...]:
    _, is_list, item_info = _base(info.annotation)
    return (item_info,) if is_list else (item_info, info)


def _kind(annotation: object, info: FieldInfo) -> str:
    base, is_list, _ = _base(annotation)
    if isinstance(base, type) and issubclass(base, BaseModel):
        text = "section"
    elif isinstance(base, type) and issubclass(base, Enum):
        text = "one of: " + ", ".join(f"`{m.value}`" for m in base)
    elif typing.get_origin(base) is typing.Literal:
        text = "one of: " + ", ".join(f"`{v}`" for v in typing.get_args(base))
    else:
        text = _SCALARS.get(base, getattr(base, "__name__", str(base)))
        limit = _max_length(*_item_and_field(info))
        if base is str and limit is not None:
            text += f" (up to {limit:,} characters)"
    if is_list:
        return "list of sections" if text == "section" else f"list of {text}"
    return text


def _doc(model: type[BaseModel]) -> str:
    """The first paragraph of a model's own docstring, if it has one."""
    own = model.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(own).split("\n\n")[0].split()) if own else ""


def _meaning(name: str, info: FieldInfo, annotation: object) -> str:
    if info.description:
        return info.description
    base, _, _ = _base(annotation)
    if isinstance(base, type) and issubclass(base, BaseModel | Enum) and base.__doc__:
        own = base.__dict__.get("__doc__")
        if own:
            return " ".join(inspect.cleandoc(own).split("\n\n")[0].split())
    return name.replace("_", " ").capitalize() + "."


def _marks(info: FieldInfo) -> tuple[str, ...]:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    marks = extra.get(MARKS_KEY)
    return tuple(str(m) for m in marks) if isinstance(marks, list) else ()


def entries(model: type[BaseModel] = Exchange) -> list[Entry]:
    """Every field path of ``model``, sections before their fields, in declaration order."""
    free_text_mark = getattr(Mark, "FREE_TEXT", None)
    found: list[Entry] = []

    def walk(current: type[BaseModel], prefix: str, special: bool) -> None:
        for name, info in current.model_fields.items():
            base, is_list, _ = _base(info.annotation)
            path = f"{prefix}{name}" + ("[]" if is_list else "")
            marks = _marks(info)
            is_special = special or str(Mark.SPECIAL_CATEGORY) in marks
            is_model = isinstance(base, type) and issubclass(base, BaseModel)
            if free_text_mark is not None:
                free = str(free_text_mark) in marks
            else:
                limit = _max_length(*_item_and_field(info))
                free = base is str and name in FREE_TEXT_NAMES and limit == MAX_TEXT
            found.append(
                Entry(
                    path=path,
                    meaning=_meaning(name, info, info.annotation),
                    kind=_kind(info.annotation, info),
                    section=section_of(path) if prefix or is_model else "",
                    special_category=is_special,
                    free_text=free,
                    marks=marks,
                )
            )
            if isinstance(base, type) and issubclass(base, BaseModel):
                walk(base, path + ".", is_special)

    walk(model, "", False)
    return found


def section_of(path: str) -> str:
    """``payload.crime`` for anything under it, ``subjects[]`` for a person's fields."""
    steps = path.split(".")
    return ".".join(steps[:2]) if steps[0] == "payload" and len(steps) > 1 else steps[0]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(model: type[BaseModel] = Exchange) -> str:
    """The catalogue page in Markdown, one table per section."""
    rows = entries(model)
    lines = [
        "# Field catalogue",
        "",
        "<!-- Generated from contracts/v1.py by `gateway policy catalogue --output "
        "docs/fields.md`; do not edit by hand. -->",
        "",
        "Every field path of the canonical record (contract version "
        f"{Exchange.model_fields['contract_version'].default}), as policies name them in "
        "`fields`, `field_catalogue`, prohibitions and policy tests. `[]` steps into every "
        "item of a list; naming a section names every field in it. See "
        "[policy.md](policy.md) for the language.",
        "",
        "- **Art 9**: special category data (UK GDPR Art 9). It crosses only under a flow "
        "that names an Art 9 condition, and only the minimum.",
        "- **Free text**: prose a person typed. It can hold anything, health details "
        "included, so treat it as possibly special category: share it only under a flow "
        "with an Art 9 condition, or drop or truncate it.",
        "- **Marks**: what the contract itself makes policy honour whatever a flow allows: "
        "`victim_location` (never sent to a perpetrator-facing recipient), "
        "`restricted_access` (only a party that honours probation's access marks), "
        "`special_category`.",
        "",
    ]
    sections: dict[str, list[Entry]] = {}
    for entry in rows:
        sections.setdefault(entry.section, []).append(entry)
    for section, members in sections.items():
        title = f"`{section}`" if section else "The envelope"
        lines += [f"## {title}", ""]
        head = next((e for e in members if e.path == section), None)
        if head is not None:
            lines += [head.meaning, ""]
        lines += [
            "| Path | Meaning | Type | Art 9 | Free text | Marks |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for e in members:
            lines.append(
                f"| `{e.path}` | {_cell(e.meaning)} | {_cell(e.kind)} | "
                f"{'yes' if e.special_category else ''} | {'yes' if e.free_text else ''} | "
                f"{', '.join(e.marks)} |"
            )
        lines.append("")
    return "\n".join(lines)


def write(output: Path = DEFAULT_OUTPUT) -> Path:
    output.write_text(render(), encoding="utf-8")
    return output
