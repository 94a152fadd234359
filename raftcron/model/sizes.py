"""Sizes in bytes, as a job or the config writes them: `output_limit` (docs/jobs.md).

A size is a non-negative integer of bytes or a string `<number><unit>`: `500`, `"500B"`,
`"10KB"` (1000), `"10KiB"` (1024), `"10MB"`, `"10MiB"`, `"1GB"`, `"1GiB"` (units are case
insensitive, whitespace between number and unit allowed). `parse_size` returns whole bytes
within `[minimum, maximum]` or raises `ValidationError` naming the field. Pure.
"""

from __future__ import annotations

import re

from raftcron.model import checks as c

#: The cap on a run's output files when neither the job nor the config sets one.
DEFAULT_OUTPUT_LIMIT = 100 * 1024 * 1024
#: Bounds of `output_limit` (a job's and the config's): 1 KiB .. 1 TiB.
MIN_OUTPUT_LIMIT = 1024
MAX_OUTPUT_LIMIT = 1024**4

_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
          "gb": 1000**3, "gib": 1024**3, "tb": 1000**4, "tib": 1024**4}
_SIZE_RE = re.compile(r"\s*([0-9]{1,15})\s*([A-Za-z]{0,3})\s*")


def parse_size(value: object, field: str, *, minimum: int, maximum: int) -> int:
    """`value` (bytes or "10MiB") as whole bytes within [minimum, maximum]."""
    if isinstance(value, str):
        m = _SIZE_RE.fullmatch(value)
        unit = _UNITS.get(m.group(2).lower()) if m else None
        if m is None or unit is None:
            raise c.fail(field, f"expected a size like 1048576, \"500KB\" or \"10MiB\", "
                                f"got {value!r}")
        value = int(m.group(1)) * unit
    return c.integer(value, field, minimum=minimum, maximum=maximum)


def output_limit(value: object, field: str = "output_limit") -> int | None:
    """A job's `output_limit`: None (the configured default) or bytes within the bounds."""
    if value is None:
        return None
    return parse_size(value, field, minimum=MIN_OUTPUT_LIMIT, maximum=MAX_OUTPUT_LIMIT)
