"""The shape of apply's results: `{"ok": True, ...}` or a business error as a value.

A business error is `{"ok": False, "error": code, "message": text}` (plus `field` when an
argument was at fault). Codes: `invalid_args`, `not_found`, `exists`, `not_active`,
`wrong_peer`, `conflict`, `managed` (a job a file in `--jobs-dir` defines), `internal`.
Results are JSON-safe: they are stored for idempotency keys and travel back to the proposer.
"""

from __future__ import annotations

from typing import Any


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def error(code: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"ok": False, "error": code, "message": message, **fields}


def not_found(what: str, name: str) -> dict[str, Any]:
    return error("not_found", f"no {what} {name!r}")
