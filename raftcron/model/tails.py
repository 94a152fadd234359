"""Output tails: the one place an output stream is cut to its last N bytes.

The executor cuts the bytes a process wrote (`decode_tail`); the state cuts the text a report
carries (`cap_tail`), so no peer can store more than `MAX_OUTPUT_TAIL` bytes per stream
whatever a report says. Both cut on a UTF-8 character boundary, never inside a character.
"""

from __future__ import annotations

from raftcron.model.types import MAX_OUTPUT_TAIL

__all__ = ["cap_tail", "decode_tail"]


def decode_tail(data: bytes, limit: int) -> str:
    """The last `limit` bytes of `data` as text: UTF-8 with replacement, whole characters only.

    The result encodes to at most `limit` bytes (a replacement character takes three bytes
    where the invalid byte took one, so the cut is made again after decoding when needed).
    """
    limit = max(0, min(int(limit), MAX_OUTPUT_TAIL))
    if limit == 0 or not data:
        return ""
    raw = _cut_to_char_start(bytes(data[-limit:]))
    text = raw.decode("utf-8", errors="replace")
    encoded = text.encode("utf-8")
    if len(encoded) > limit:
        # The replacements grew it; what is left is valid UTF-8, so one more cut is final.
        text = _cut_to_char_start(encoded[-limit:]).decode("utf-8", errors="replace")
    return text


def _cut_to_char_start(raw: bytes) -> bytes:
    """Drop continuation bytes (0b10xxxxxx) at the front: at most 3, the rest of a character."""
    skip = 0
    while skip < min(3, len(raw)) and (raw[skip] & 0xC0) == 0x80:
        skip += 1
    return raw[skip:]


def cap_tail(text: str, limit: int = MAX_OUTPUT_TAIL) -> str:
    """The last `limit` UTF-8 bytes of `text`, cut on a character boundary."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", "ignore")
