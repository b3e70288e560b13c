"""Every partner adapter is found through the one registry."""

from __future__ import annotations

from adapters import Adapter
from tests.adapters.helpers import ADAPTERS, REGISTRY


def test_all_partner_adapters_load():
    assert REGISTRY.disabled == {}
    assert set(ADAPTERS) <= set(REGISTRY.names())


def test_each_adapter_describes_itself():
    for name in ADAPTERS:
        adapter = REGISTRY.get(name)
        assert isinstance(adapter, Adapter)
        assert adapter.name == name
        assert adapter.media_types and adapter.summary
