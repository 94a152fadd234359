"""The notification outbox's vocabulary: what a committed notification is and may become.

A notification is first committed as an *intent* (`notify_intent`, proposed by the leader
that decided the event) and later as a *result* (`notify_result`: delivered, or failed after
its attempts). Its id is derived from what it is about — the event, the run (or, for
`absent`, the job and the time the absence is measured from) and the target — so the same
event decided twice, by one leader or by the next, is the same row: the intent is recorded
once, and a new leader delivers only what is still `pending`.

Pure: used by the command checks (`model.commands`), the state (`state/outbox.py`) and the
sender (`notify/`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from raftcron.errors import ValidationError

__all__ = ["FINAL_STATUSES", "ITEM_KEYS", "KINDS", "OUTBOX_KEEP", "STATUSES", "check_items",
           "notification_id"]

#: A notification's status: pending until delivered or given up (failed).
STATUSES = ("pending", "delivered", "failed")
FINAL_STATUSES = ("delivered", "failed")
#: How a notification leaves: a webhook POST or one email to a list of addresses.
KINDS = ("webhook", "email")
#: The keys of one intent item (`run_id` may be null: `absent` with no success yet).
ITEM_KEYS = ("id", "job", "event", "run_id", "kind", "target", "payload")
#: Finished notifications kept in the state (the oldest go first); pending ones always stay.
OUTBOX_KEEP = 10_000
#: Bytes of one item's payload, JSON-encoded (a run's tails are capped far below this).
MAX_PAYLOAD = 256 * 1024


def notification_id(event: str, about: str, target: str) -> str:
    """The id of the notification of `event` about `about` (a run id, or `job@reference`)
    to `target` (a URL, or the sorted addresses of an email): stable, so deciding the same
    event again names the same notification."""
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:16]
    return f"{event}:{about}:{digest}"


def check_items(value: Any, where: str) -> None:
    """Refuse anything but a non-empty list of intent items (ValidationError naming it)."""
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{where}: expected a non-empty list of notifications",
                              field=where)
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping) or set(item) != set(ITEM_KEYS):
            raise ValidationError(f"{at}: expected an object with exactly {list(ITEM_KEYS)}",
                                  field=at)
        for key in ("id", "job", "event", "target"):
            if not isinstance(item[key], str) or not item[key]:
                raise ValidationError(f"{at}.{key}: expected a non-empty string",
                                      field=f"{at}.{key}")
        if item["run_id"] is not None and not isinstance(item["run_id"], str):
            raise ValidationError(f"{at}.run_id: expected a string or null", field=f"{at}.run_id")
        if item["kind"] not in KINDS:
            raise ValidationError(f"{at}.kind: expected one of {KINDS}", field=f"{at}.kind")
        if not isinstance(item["payload"], Mapping):
            raise ValidationError(f"{at}.payload: expected an object", field=f"{at}.payload")
