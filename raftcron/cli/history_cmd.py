"""`raftcron jobs history NAME` and `raftcron nodes history NAME`: the audit history.

Prints the newest `--limit` changes (default 20), newest first, as a table: version, op, time
(UTC), token name ("-" for none) and the changed fields as `field: from -> to`, each value
shortened so a row stays readable. `--json` prints the API's items only (a list, as
`jobs list --json` does), paged through with the cursor up to `--limit`. A name that never
had a history is not found (exit 3).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from raftcron.cli.output import print_json, table, utc_time

#: Default number of entries shown.
DEFAULT_LIMIT = 20
#: The API's largest page.
PAGE = 1000
#: A changed value longer than this is cut, with "..." (the JSON has it whole).
VALUE_WIDTH = 24


def add_history_action(action: Callable[..., argparse.ArgumentParser], what: str) -> None:
    """Declare the `history NAME [--limit N]` action of `jobs` or `nodes`."""
    p = action("history", f"the {what}'s changes, newest first: who, when, what", "name")
    p.add_argument("--limit", type=_positive, default=DEFAULT_LIMIT,
                   help=f"at most this many changes (default {DEFAULT_LIMIT})")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def history(fetch: Callable[..., dict], args: argparse.Namespace, as_json: bool) -> int:
    """Fetch up to `args.limit` entries with `fetch(name, limit=, cursor=)` and print them."""
    items: list[dict] = []
    cursor = None
    while len(items) < args.limit:
        page = fetch(args.name, limit=min(PAGE, args.limit - len(items)), cursor=cursor)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if as_json:
        print_json(items)
        return 0
    rows = [[h.get("version"), h.get("op"), utc_time(h.get("at")), h.get("by") or "-",
             changes_text(h.get("changes"))] for h in items]
    print(table(rows, ["VERSION", "OP", "AT (UTC)", "BY", "CHANGES"]))
    return 0


def changes_text(changes: dict[str, Any] | None) -> str:
    """`{"schedule": {"from": "0 3 * * *", "to": "30 3 * * *"}}` ->
    `schedule: "0 3 * * *" -> "30 3 * * *"`, fields sorted, `; ` between them."""
    if not changes:
        return ""
    return "; ".join(f"{field}: {_value(c.get('from'))} -> {_value(c.get('to'))}"
                     for field, c in sorted(changes.items()))


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 3] + "..."
