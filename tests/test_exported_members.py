"""The public surfaces third parties build on are pinned: changing one is a decision."""

from __future__ import annotations

import adapters
import contracts
import gateway.errors
import gateway.pipeline


def test_adapter_surface_for_third_party_adapters():
    assert adapters.__all__ == [
        "MAX_BATCH_ROWS",
        "Adapter",
        "AdapterRegistry",
        "BatchTooLarge",
        "FieldProblem",
        "IngestContext",
        "InvalidRecord",
        "MalformedBody",
        "NativeModel",
        "Parsed",
        "Rendered",
        "UnsupportedMediaType",
        "build_canonical",
        "check_batch_size",
        "drop_empty",
        "load_json",
        "load_json_object",
        "load_registry",
        "validate_native",
    ]
    for name in adapters.__all__:
        assert hasattr(adapters, name)
    # the errors an adapter raises are the gateway's own, answered in its one handler
    for name in ("FieldProblem", "InvalidRecord", "MalformedBody", "UnsupportedMediaType"):
        assert getattr(adapters, name) is getattr(gateway.errors, name)


def test_contract_surface_names_every_export():
    assert len(contracts.__all__) == len(set(contracts.__all__))
    for name in contracts.__all__:
        assert hasattr(contracts, name), name
    assert {"Exchange", "Subject", "Identifier", "Payload", "field_paths"} <= set(contracts.__all__)


def test_pipeline_surface():
    assert gateway.pipeline.__all__ == ["Accepted", "Pipeline", "Submission"]
