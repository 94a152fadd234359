"""`raftcron.codec`: the bytes the standard library's JSON would give, whatever the value."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from raftcron import codec


class Color(enum.StrEnum):
    RED = "red"


def stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize("value", [
    {"name": "a", "n": 1, "x": 1.5, "ok": True, "none": None, "list": [1, "2", [3]]},
    {"unicode": "é ☃ 日本 \u2028", "quote": "\"\\</script>", "ctrl": "\x00\n\t"},
    {"big": 2**70, "neg": -(2**63) - 1},
    {1: "int key", "s": Color.RED},
    {None: "null key", True: "bool key"},
    [],
    (1, 2),
    "plain",
    -0.0,
    0.1,
    123456.789,
])
def test_encode_gives_the_standard_librarys_bytes(value: Any) -> None:
    assert codec.encode(value) == stdlib(value)


def test_encode_spells_a_float_in_exponent_form_its_own_way_with_the_same_value() -> None:
    assert json.loads(codec.encode({"x": 1e300, "y": 1.5e-9})) == {"x": 1e300, "y": 1.5e-9}


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, null, true]}', "123456789012345678901234567890",
                                  '"\\u00e9"', "[]"])
def test_decode_reads_what_json_loads_reads(text: str) -> None:
    assert codec.decode(text) == json.loads(text)
    assert codec.decode(text.encode()) == json.loads(text)


def test_decode_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError):
        codec.decode(b"{nope")
