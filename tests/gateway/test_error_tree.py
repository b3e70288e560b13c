"""One error tree: every error a client or operator can see is in gateway.errors, drawn there."""

from __future__ import annotations

import importlib
import pkgutil

import adapters
import gateway.errors
from gateway.errors import GatewayError

#: Modules that act when imported: alembic's env.py migrates, a __main__ runs its command.
ACT_ON_IMPORT = ("gateway.store.migrations", "gateway.cli.__main__")


def _import_everything() -> None:
    for package in (gateway, adapters):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.startswith(ACT_ON_IMPORT):
                importlib.import_module(module.name)


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def test_every_gateway_error_is_defined_and_drawn_in_gateway_errors():
    _import_everything()
    errors = [c for c in _subclasses(GatewayError) if not c.__module__.startswith("tests.")]
    elsewhere = [f"{c.__module__}.{c.__name__}" for c in errors if c.__module__ != "gateway.errors"]
    assert not elsewhere, "define these in gateway/errors.py"
    undrawn = [c.__name__ for c in errors if f"── {c.__name__} " not in gateway.errors.__doc__]
    assert not undrawn, "draw these in gateway.errors' docstring tree"


def test_slugs_are_unique():
    _import_everything()
    slugs = [c.slug for c in (GatewayError, *_subclasses(GatewayError))]
    assert len(slugs) == len(set(slugs))
