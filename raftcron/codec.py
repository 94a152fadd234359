"""JSON in and out of the hot paths, through msgspec: the one module importing it.

`encode` gives the bytes `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`
would, encoded as UTF-8, in about a fifth of the time; a value msgspec refuses (an integer
beyond 64 bits, a key such as None) goes through the standard library instead, so the answer
does not change with the codec. Two spellings differ, never the value: a float in exponent
form (`1e+300` is written `1e300`) and a non-finite float (`null`, where the standard
library writes `NaN`, which is not JSON). `decode` reads any JSON text back as `json.loads` does.
Request bodies are still parsed by the standard library, whose error messages are part of
the answer (`api/app.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["decode", "encode"]

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


def encode(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON (non-ASCII characters as they are, not `\\u` escapes)."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
