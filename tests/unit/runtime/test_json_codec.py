"""The json/jsonb codec of the asyncpg pools: what it writes reads back as the same value."""

from __future__ import annotations

import json

import pytest
from amp_runtime.db import dumps

VALUES = [
    {"a": 1, "b": [1.5, None, True, "é ✓"], "nested": {"x": {"y": []}}},
    {"big": 2**70, "small": -(2**63)},  # beyond 64 bits: orjson refuses, the standard encoder takes it
    [{"k": "v" * 1000}] * 3,
    "plain text",
    0.1 + 0.2,
]


@pytest.mark.parametrize("value", VALUES)
def test_round_trips_through_the_standard_decoder(value: object) -> None:
    assert json.loads(dumps(value)) == value


def test_non_string_keys_become_strings_as_with_the_standard_encoder() -> None:
    value = {3: "three", 2.5: "x", None: "n", True: "t"}
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))
