"""Every partner adapter is found through the one registry."""

from __future__ import annotations

import pytest

from adapters import Adapter
from contracts import Exchange
from tests.adapters.helpers import ADAPTERS, REGISTRY, canonical, parse_sample, samples


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


def test_each_adapter_can_render_its_own_samples():
    for adapter in ADAPTERS:
        for path in samples(adapter):
            for item in parse_sample(adapter, path).items:
                if isinstance(item, Exchange):
                    assert REGISTRY.get(adapter).can_render(canonical(item)), path.name


def test_a_format_says_what_it_cannot_carry():
    health = {"category": "health_information"}
    assert REGISTRY.get("fhir").can_render(health)
    for adapter in ("police", "probation", "marac", "mappa"):
        assert not REGISTRY.get(adapter).can_render(health)
