"""Row and message JSON (gateway.jsontext): values round-trip; orjson refusals fall back."""

from __future__ import annotations

import json

from gateway import jsontext


def test_round_trips_and_sorts_keys_when_asked():
    value = {"b": [1, None, True], "a": "Zoë \u2028 \x00", "c": {"y": 1.5, "x": "é"}}
    text = jsontext.dumps(value, sort_keys=True)
    assert json.loads(text) == value
    assert text.index('"a"') < text.index('"b"') < text.index('"c"')
    assert "Zoë" in text  # UTF-8, not \\u escapes
    assert json.loads(jsontext.dumps_bytes(value)) == value


def test_values_orjson_refuses_fall_back_to_the_standard_library():
    huge = {"n": 2**70, 3: "int key"}
    assert json.loads(jsontext.dumps(huge)) == {"n": 2**70, "3": "int key"}
    assert json.loads(jsontext.dumps_bytes(huge)) == {"n": 2**70, "3": "int key"}
