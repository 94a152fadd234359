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


@pytest.mark.parametrize("value", [
    float("nan"), float("inf"), float("-inf"), {"a": [1, {"b": float("nan")}]},
    {"x": [0.5, -float("inf")]}, [1e308, float("-nan")],
])
def test_encode_strict_refuses_a_non_finite_float_as_the_standard_library_does(
    value: Any,
) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        codec.encode_strict(value)


@pytest.mark.parametrize("value", [
    {"name": "a", "n": 1, "x": 1.5, "big": 123456.789, "neg": -0.0},
    {1: "int key", "big": 2**70, "s": Color.RED},
    # Bytes that look like a non-finite float to the quick scan (a 203-byte string: a str8
    # header 0xd9 0xcb, then 0x7f 0xf0) and an integer whose payload does: the slow way,
    # the same bytes.
    {"s": "\x7f\U00010000" + "a" * 198},
    {"n": 0xCB7FF000},
    "plain",
])
def test_encode_strict_gives_the_standard_librarys_bytes_for_finite_values(value: Any) -> None:
    assert codec.encode_strict(value) == json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
