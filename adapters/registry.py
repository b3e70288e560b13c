"""The one registry of partner adapters.

Adapters are found through the ``isg_gateway.adapters`` entry point group, so
a force can ship an adapter for its own records system as a separate package.
One that fails to load is logged and kept as *disabled, because ...* rather
than taking the gateway down; duplicates, abstract classes and an adapter that
cannot render are refused.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from adapters.base import Adapter
from gateway.errors import UnknownFormat

ENTRY_POINT_GROUP = "isg_gateway.adapters"
log = logging.getLogger(__name__)


@dataclass
class AdapterRegistry:
    adapters: dict[str, Adapter] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)

    def register(self, adapter_cls: type[Adapter]) -> None:
        if inspect.isabstract(adapter_cls) or not issubclass(adapter_cls, Adapter):
            raise TypeError(f"{adapter_cls!r} is not a concrete Adapter")
        if adapter_cls.render is Adapter.render and adapter_cls.to_native is Adapter.to_native:
            raise TypeError(f"{adapter_cls!r} defines neither to_native nor render")
        name = adapter_cls.name
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} is registered twice")
        self.adapters[name] = adapter_cls()

    def get(self, name: str) -> Adapter:
        try:
            return self.adapters[name]
        except KeyError:
            known = ", ".join(sorted(self.adapters)) or "none"
            reason = f" (disabled, because {self.disabled[name]})" if name in self.disabled else ""
            raise UnknownFormat(f"no adapter for format {name!r}{reason}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self.adapters)


def load_registry() -> AdapterRegistry:
    registry = AdapterRegistry()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            registry.register(ep.load())
        except Exception as exc:  # a broken third-party adapter must not stop the gateway
            registry.disabled[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("adapter %s disabled: %s", ep.name, exc)
    return registry
