"""The `jobs add` options for blackout windows, `queue_all` and rolling fan-out, and the job
fields they set (kept apart so `client_cmds` stays within its size)."""

from __future__ import annotations

import argparse
from typing import Any

from raftcron.errors import ValidationError


def add_window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--queue-cap", type=int, help="queue_all: at most this many slots wait")
    p.add_argument("--max-parallel", metavar="N|N%",
                   help="hosts all: targets at a time, a number or a share like 25%%")
    p.add_argument("--stop-on-failure", action="store_true",
                   help="hosts all with --max-parallel: start no further target after one "
                        "failed (keep_going = false)")
    p.add_argument("--concurrency-group", metavar="NAME",
                   help="share the limit of this concurrency group with its other jobs")
    p.add_argument("--blackout", action="append", default=[], metavar="CRON",
                   help="a blackout window in the job's zone, e.g. '* 0-6 * * sat,sun'; "
                        "repeatable")


def window_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The job fields of these options (None: not given, the server's default)."""
    return {"queue_cap": args.queue_cap, "blackout": args.blackout or None,
            "max_parallel": _parallel(args.max_parallel),
            "keep_going": False if args.stop_on_failure else None,
            "concurrency_group": args.concurrency_group}


def _parallel(text: str | None) -> int | str | None:
    """`--max-parallel`: a whole number, or a share like `25%` sent as is."""
    if text is None or text.strip().endswith("%"):
        return text
    if not text.strip().isdigit():
        raise ValidationError(f"--max-parallel: expected a number or a share like 25%, got "
                              f"{text!r}", field="max_parallel")
    return int(text)
