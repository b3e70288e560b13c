"""Declared field paths of a contract model.

Policies name fields by path (``payload.crime.offence.code``,
``subjects[].identifiers``); ``[]`` steps into every item of a list. Loading a
policy checks each path it names against :func:`field_paths`, so a typo in a
governance lead's allow list is an error at load time, not a silent leak or a
silent drop at run time.
"""

from __future__ import annotations

import types
import typing
from functools import cache

from pydantic import BaseModel


def unwrap_annotation(annotation: object) -> tuple[object, bool]:
    """Strip Optional/Union-with-None and Annotated; report whether the type is a list."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:  # a constrained type such as ``Text``: its base type
        return unwrap_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return unwrap_annotation(args[0])
    if origin is list:
        (item,) = typing.get_args(annotation)
        inner, _ = unwrap_annotation(item)
        return inner, True
    return annotation, False


@cache
def field_paths(model: type[BaseModel]) -> frozenset[str]:
    """Every path in ``model``: leaves and the sections that contain them."""
    paths: set[str] = set()

    def walk(current: type[BaseModel], prefix: str) -> None:
        for name, info in current.model_fields.items():
            inner, is_list = unwrap_annotation(info.annotation)
            path = f"{prefix}{name}" + ("[]" if is_list else "")
            paths.add(path)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, path + ".")

    walk(model, "")
    return frozenset(paths)


def leaf_paths(model: type[BaseModel]) -> frozenset[str]:
    """Paths that hold values rather than further sections."""
    every = field_paths(model)
    return frozenset(p for p in every if not any(q.startswith(p + ".") for q in every if q != p))
