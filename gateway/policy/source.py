"""Reading policy YAML so every error can name its file, line and field.

PyYAML's composed node tree keeps the line of every mapping key and item; a
:class:`Source` walks it along a pydantic error location (or any path of keys
and indexes) to find the line a governance lead should look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway.errors import FieldProblem, PolicyLoadError, field_path

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Source:
    """One YAML file: its data and its node tree (for line numbers)."""

    path: Path
    data: Any
    root: yaml.Node | None

    @classmethod
    def read(cls, path: Path) -> Source:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyLoadError(f"{path}: cannot be read: {exc.strerror}") from None
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path.name}:{mark.line + 1}" if mark else path.name
            problem = getattr(exc, "problem", None) or str(exc)
            raise PolicyLoadError(
                f"{path}: not valid YAML", [FieldProblem("(yaml)", problem, where)]
            ) from None
        return cls(path=path, data=data if data is not None else {}, root=root)

    def line(self, loc: Sequence[int | str]) -> int:
        """1-based line of the deepest node ``loc`` reaches (1 if the file is empty)."""
        node = self.root
        if node is None:
            return 1
        found = node
        for part in loc:
            child = _child(found, part)
            if child is None:
                continue  # union branch names and the like are not in the file
            found = child
        return found.start_mark.line + 1

    def where(self, loc: Sequence[int | str]) -> str:
        return f"{self.path.name}:{self.line(loc)}"

    def problem(self, loc: Sequence[int | str], message: str) -> FieldProblem:
        return FieldProblem(
            field=field_path(loc, "(document)"), message=message, record=self.where(loc)
        )

    def validate(self, model: type[Model], what: str) -> Model:
        """Validate the file's data as ``model``; errors name line, field and expectation."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            problems = [self.problem(_field_loc(e["loc"]), _expected(e)) for e in _useful(exc)]
            raise PolicyLoadError(
                f"{self.path}: does not match the {what} schema", problems
            ) from None


def _child(node: yaml.Node, part: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                child: yaml.Node = value
                return child
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return node.value[part] if part < len(node.value) else None
    return None


def _field_loc(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """Drop pydantic's union-branch labels (``str``, ``FieldRule``) from a location."""
    return tuple(p for p in loc if isinstance(p, int) or not _is_branch_label(p))


def _is_branch_label(part: str) -> bool:
    return (
        part[:1].isupper()
        or part.startswith(("function-", "literal[", "list[", "dict["))
        or part in {"str", "int", "bool", "float", "date"}
    )


def _useful(exc: ValidationError) -> list[ErrorDetails]:
    """Errors worth showing.

    A value that fails every branch of a union (a field entry is a path *or* a
    rule) gets one error per branch. When the rule branch got as far as the
    entry's own keys, its errors say what is wrong; the path branch's bare
    "not a string" would only confuse, so it is dropped.
    """
    errors = exc.errors(include_url=False)
    structured = {
        _field_loc(e["loc"][:-1]) for e in errors if len(e["loc"]) > len(_field_loc(e["loc"]))
    }
    return [
        e
        for e in errors
        if not (e["type"].endswith("_type") and _field_loc(e["loc"]) in structured)
    ] or errors


def _expected(error: ErrorDetails) -> str:
    """Say what was expected, in words, for the common validation errors."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the policy language; check the spelling)"
    if kind == "string_pattern_mismatch":
        return f"expected text matching {ctx.get('pattern')}, got {error.get('input')!r}"
    if kind in {"enum", "literal_error"}:
        return f"expected {ctx.get('expected')}, got {error.get('input')!r}"
    return f"{error['msg']} (got {error.get('input')!r})"
