"""Every partner adapter is found through the one registry."""

from __future__ import annotations

import pytest

from adapters import Adapter
from tests.adapters.helpers import ADAPTERS, REGISTRY, parse_sample, samples


def test_all_partner_adapters_load():
    assert REGISTRY.disabled == {}
    assert set(ADAPTERS) <= set(REGISTRY.names())


def test_each_adapter_describes_itself():
    for name in ADAPTERS:
        adapter = REGISTRY.get(name)
        assert isinstance(adapter, Adapter)
        assert adapter.name == name
        assert adapter.media_types and adapter.summary


@pytest.mark.parametrize(
    ("adapter", "path"),
    [(a, p) for a in ADAPTERS for p in samples(a)],
    ids=lambda v: getattr(v, "name", v),
)
def test_a_single_record_document_is_exactly_one_exchange(adapter, path):
    """The pipeline relies on it: only a batch may hold several records (or error items)."""
    parsed = parse_sample(adapter, path)
    if not parsed.batch:
        assert len(parsed.items) == 1
