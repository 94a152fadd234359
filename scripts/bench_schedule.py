#!/usr/bin/env python3
"""Benchmark of the schedule engine: microseconds per next fire, and 100,000 jobs.

    scripts/bench schedule [--jobs N] [--calls N] [--write]

Prints a markdown section; `--write` stores it in docs/benchmarks.md. Single-threaded, pure
CPU; numbers are the median of a few rounds, so a busy machine shows up as spread between
rounds, not as a bias.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import islice

from raftcron.schedule import parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchdoc import publish

START = datetime(2024, 3, 1, tzinfo=UTC)

COMMON = [
    ("*/5 * * * *", "UTC"),
    ("0 * * * *", "UTC"),
    ("30 2 * * *", "UTC"),
    ("0 9 * * 1-5", "Europe/Berlin"),
    ("@daily", "America/New_York"),
    ("*/10 * * * * *", "UTC"),
    ("@every 10s", "UTC"),
]
COMPLEX = [
    ("H H(0-5) * * *", "UTC"),
    ("H/15 H(9-17) * * mon-fri", "Europe/Berlin"),
    ("*/15 9-17 * * mon-fri", "Australia/Lord_Howe"),
    ("0 30 2 * * *", "America/New_York"),
    ("0 0 L * *", "UTC"),
    ("0 0 15W * *", "Europe/Berlin"),
    ("0 0 * * 5L", "UTC"),
    ("0 0 * * 1#2", "America/Santiago"),
    ("0 0 13 * 5", "UTC"),
    ("0 0 29 2 1", "UTC"),
    ('{interval = "10m", reference = "03:10"}', "Europe/Berlin"),
]
# The 100,000-job mix: plain, hashed and DST-zoned expressions.
MIX = ["*/5 * * * *", "0 * * * *", "H H * * *", "H/15 * * * *", "30 2 * * *", "0 9 * * 1-5",
       "H H(0-6) * * 1-5", "0 0 L * *", "@daily", "*/30 * * * * *", "@every 1h", "H 3 * * *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


def per_call(expr: str, tz: str, calls: int, rounds: int = 5) -> tuple[float, float]:
    """(us per next_after from scattered instants, us per fire when iterating)."""
    s = parse(expr, tz=tz, name="bench", anchor=START)
    instants = [START + timedelta(seconds=7919 * i) for i in range(calls)]
    scattered, iterating = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in instants:
            s.next_after(t)
        scattered.append((time.perf_counter() - t0) / calls * 1e6)
        t0 = time.perf_counter()
        n = sum(1 for _ in islice(s.iter_after(START), calls))
        iterating.append((time.perf_counter() - t0) / max(n, 1) * 1e6)
    return statistics.median(scattered), statistics.median(iterating)


def many_jobs(n: int) -> tuple[float, float]:
    """(seconds to parse n jobs, seconds to compute the next fire of each)."""
    specs = [(f"job-{i}", MIX[i % len(MIX)], ZONES[(i // len(MIX)) % len(ZONES)])
             for i in range(n)]
    t0 = time.perf_counter()
    schedules = [parse(expr, tz=tz, name=name, anchor=START) for name, expr, tz in specs]
    parsed = time.perf_counter() - t0
    now = START + timedelta(days=17, seconds=12345)
    t0 = time.perf_counter()
    for s in schedules:
        s.next_after(now)
    return parsed, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=5_000)
    ap.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    args = ap.parse_args()
    out: list[str] = []
    say = out.append
    cmd = "scripts/bench schedule " + " ".join(a for a in sys.argv[1:] if a != "--write")
    say("## Schedule engine (`scripts/bench_schedule.py`)\n")
    say(f"`{cmd.strip()}` — Python {platform.python_version()} on {platform.machine()}, one "
        f"thread; median of 5 rounds of {args.calls:,} calls. *Scattered*: `next_after` from "
        "unrelated instants (what the scheduler does for a new job); *iterating*: `iter_after`, "
        f"each fire from the previous one. Load average at start: {os.getloadavg()[0]:.1f}.\n")
    for title, rows in (("Common expressions", COMMON), ("Complex expressions", COMPLEX)):
        say(f"### {title}\n")
        say("| expression | tz | scattered µs/fire | iterating µs/fire |")
        say("|---|---|---:|---:|")
        for expr, tz in rows:
            scattered, iterating = per_call(expr, tz, args.calls)
            say(f"| `{expr}` | {tz} | {scattered:.1f} | {iterating:.1f} |")
        say("")
    parsed, nexts = many_jobs(args.jobs)
    say(f"### {args.jobs:,} jobs\n")
    say(f"A mix of {len(MIX)} expressions (a third hashed by job name) over {len(ZONES)} "
        "zones, every job a distinct name.\n")
    say("| step | seconds | µs per job |")
    say("|---|---:|---:|")
    say(f"| parse | {parsed:.2f} | {parsed / args.jobs * 1e6:.1f} |")
    say(f"| next fire of every job | {nexts:.2f} | {nexts / args.jobs * 1e6:.1f} |")
    say(f"| total | {parsed + nexts:.2f} | {(parsed + nexts) / args.jobs * 1e6:.1f} |")
    publish("schedule", "\n".join(out), ["--write"] if args.write else [])


if __name__ == "__main__":
    main()
