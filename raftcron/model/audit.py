"""The audit history's rules: what a change to a job or node records, and how long it is kept.

Pure: the state machine calls `changes(old, new)` with two specs it already holds (the stored
one and the command's), so every peer records the same history.

A change is `{field: {"from": old, "to": new}}` for every top-level field that differs (a
field absent on one side shows as null). Secrets never enter the history: a job's `env`
values are replaced by `SECRET_MARK` (the keys stay, so "DB_PASSWORD changed" is visible),
and so is any field whose name says it holds one (`password`, `secret`, `token`,
`passphrase`). A creation records no change (its fields are the job's at version 1, which
the later changes lead back to); a deletion records the last version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["AUDITED_OPS", "HISTORY_MAX_ROWS", "HISTORY_PER_RESOURCE", "SECRET_MARK", "changes",
           "redact"]

#: The commands that change a job or a node, each carrying `by` (the token's name) from v4.
AUDITED_OPS = ("put_job", "delete_job", "set_paused", "release_job", "put_node", "delete_node")
#: Entries kept per job or node (the oldest go first).
HISTORY_PER_RESOURCE = 100
#: Entries kept in all (deleted jobs' histories go when the total passes this).
HISTORY_MAX_ROWS = 200_000
#: What a secret value is shown as.
SECRET_MARK = "(secret)"
_SECRET_WORDS = ("password", "secret", "token", "passphrase")


def redact(field: str, value: Any) -> Any:
    """`value` as the history may show it: env values and secret-named fields masked."""
    if value is None:
        return None
    if field == "env" and isinstance(value, Mapping):
        return {k: SECRET_MARK for k in value}
    if any(word in field.lower() for word in _SECRET_WORDS):
        return SECRET_MARK
    return value


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields that differ between two specs, each as `{"from", "to"}`, redacted.

    An `env` whose keys are the same but a value differs shows every changed key as
    `"(secret)" -> "(secret changed)"`, so the change is visible and the value is not.
    """
    old, new = old or {}, new or {}
    out: dict[str, Any] = {}
    for field in sorted(set(old) | set(new)):
        before, after = old.get(field), new.get(field)
        if before == after:
            continue
        if field == "env" and isinstance(before, Mapping) and isinstance(after, Mapping):
            out[field] = _env_change(before, after)
            continue
        out[field] = {"from": redact(field, before), "to": redact(field, after)}
    return out


def _env_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    keys = sorted(set(before) | set(after))
    return {
        "from": {k: SECRET_MARK for k in keys if k in before},
        "to": {k: (SECRET_MARK if before.get(k) == after[k] else f"{SECRET_MARK} changed")
               for k in keys if k in after},
    }
