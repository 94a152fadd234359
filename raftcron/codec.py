"""JSON in and out of the hot paths, through msgspec: the one module importing it.

`encode` gives the bytes `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`
would, encoded as UTF-8, in about a fifth of the time; a value msgspec refuses (an integer
beyond 64 bits, a key such as None) goes through the standard library instead, so the answer
does not change with the codec. Two spellings differ, never the value: a float in exponent
form (`1e+300` is written `1e300`) and a non-finite float (`null`, where the standard
library writes `NaN`, which is not JSON); `encode_strict` refuses a non-finite float instead,
as `json.dumps(..., allow_nan=False)` does. `decode` reads any JSON text back as `json.loads`
does.
Request bodies are still parsed by the standard library, whose error messages are part of
the answer (`api/app.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["decode", "encode", "encode_strict"]

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()
_MSGPACK = msgspec.msgpack.Encoder()
#: A float64 in MessagePack (0xcb, then big-endian IEEE 754) whose exponent bits are all ones:
#: NaN or an infinity. Every non-finite float matches; a string's bytes may match too, which
#: only sends the value the slow way.
_NON_FINITE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")


def encode(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON (non-ASCII characters as they are, not `\\u` escapes)."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_strict(value: Any) -> bytes:
    """`encode`, but a non-finite float raises `ValueError` (JSON has no NaN or infinity) as
    the standard library's `allow_nan=False` does, in a third of its time."""
    try:
        suspect = _NON_FINITE.search(_MSGPACK.encode(value)) is not None
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        suspect = True
    if suspect:
        return json.dumps(value, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8")
    return encode(value)


def decode(data: bytes | str, *, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """The value of a JSON document as `json.loads(text, parse_constant=...)` reads it, the
    text being `data` decoded as UTF-8; `ValueError` (`UnicodeDecodeError` included) when it
    is not one."""
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError:
        # The standard library's verdict and message, and its reading of what msgspec
        # refuses but it accepts (a number beyond a float's range, a lone surrogate escape).
        text = data.decode() if isinstance(data, bytes | bytearray) else data
        return json.loads(text, parse_constant=parse_constant)
