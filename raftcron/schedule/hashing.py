"""The stable hash behind `H` fields and jitter.

Python's `hash()` is salted per process, so two peers (or two runs of one peer) would disagree.
Every spread raftcron computes goes through `stable_int` instead: the same input gives the same
number on every peer, every Python version and every run.
"""

from __future__ import annotations

import hashlib


def stable_int(text: str) -> int:
    """A uniformly distributed 64-bit integer from the first 8 bytes of sha256(text)."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")
