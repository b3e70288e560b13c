"""The public surfaces third parties build on are pinned: changing one is a decision."""

from __future__ import annotations

import adapters
import contracts
import gateway.pipeline


def test_adapter_surface_for_third_party_adapters():
    assert adapters.__all__ == [
        "MAX_BATCH_ROWS",
        "Adapter",
        "AdapterRegistry",
        "BatchTooLarge",
        "IngestContext",
        "Parsed",
        "Rendered",
        "load_registry",
    ]
    for name in adapters.__all__:
        assert hasattr(adapters, name)


def test_contract_surface_names_every_export():
    assert len(contracts.__all__) == len(set(contracts.__all__))
    for name in contracts.__all__:
        assert hasattr(contracts, name), name
    assert {"Exchange", "Subject", "Identifier", "Payload", "field_paths"} <= set(contracts.__all__)


def test_pipeline_surface():
    assert gateway.pipeline.__all__ == ["Accepted", "Pipeline", "Submission"]
