"""Every partner adapter is found through the one registry."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

import adapters
from adapters import Adapter, AdapterRegistry, Parsed
from contracts import Exchange
from tests.adapters.helpers import ADAPTERS, CONTEXT, REGISTRY, canonical, parse_sample, samples


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


class Shout(adapters.NativeModel):
    text: str


class ShoutingAdapter(adapters.Adapter):
    """A third party's adapter, written with nothing but what ``adapters`` exports."""

    name = "shouting"
    media_types = ("application/vnd.shout+json", "application/json")

    def parse(self, body: bytes, media_type: str, context: adapters.IngestContext) -> Parsed:
        shout = adapters.validate_native(
            Shout, self.read_json(body, media_type, "a shout"), "shout"
        )
        if shout.text.isupper():
            raise adapters.InvalidRecord(
                "too loud", [adapters.FieldProblem("text", "all capitals")]
            )
        exchange = adapters.build_canonical(
            lambda: Exchange(
                exchange_id=uuid4(),
                source_partner=context.source_partner,
                submitted_at=context.received_at,
                category="crime_record",
                purpose=shout.text,
                subjects=[],  # a shout is about no one, which the contract refuses
                payload={},
            ),
            "shout",
        )
        return Parsed([exchange])

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        return adapters.drop_empty({"text": record.get("purpose", "").upper(), "empty": None})


def test_a_third_party_adapter_gets_render_and_the_media_type_check_from_the_kit():
    registry = AdapterRegistry()
    registry.register(ShoutingAdapter)
    adapter = registry.get("shouting")
    assert adapter.render({"purpose": "stalking"}) == adapters.Rendered(
        b'{"text": "STALKING"}', "application/vnd.shout+json"
    )
    with pytest.raises(adapters.UnsupportedMediaType):
        adapter.parse(b"{}", "text/plain", CONTEXT)
    with pytest.raises(adapters.MalformedBody, match="a shout is a JSON object"):
        adapter.parse(b"[]", "application/json; charset=utf-8", CONTEXT)
    with pytest.raises(adapters.InvalidRecord) as refused:
        adapter.parse(b'{"text": "hi", "loud": true}', "application/json", CONTEXT)
    assert [(p.field, p.message) for p in refused.value.problems] == [("loud", "unknown field")]
    with pytest.raises(adapters.InvalidRecord, match="too loud"):
        adapter.parse(b'{"text": "HI"}', "application/json", CONTEXT)
    with pytest.raises(adapters.InvalidRecord, match=r"shout \(canonical form\)") as refused:
        adapter.parse(b'{"text": "hi"}', "application/json", CONTEXT)
    assert "subjects" in {p.field for p in refused.value.problems}


def test_the_registry_refuses_an_adapter_that_cannot_render():
    class Mute(adapters.Adapter):
        name = "mute"

        def parse(self, body: bytes, media_type: str, context: adapters.IngestContext) -> Parsed:
            raise NotImplementedError

    with pytest.raises(TypeError, match="neither to_native nor render"):
        AdapterRegistry().register(Mute)
