"""The job fields of dependencies, pause on failure and success rules (docs/jobs.md).

- `after`: jobs that must each succeed (since this job's last run) before it runs.
- `on_failure`: jobs started when a run of this job ends failed, timed out or lost after its
  retries.
- `pause_after_failures`: pause the job after this many consecutive failed slots.
- `success_exit_codes`: the exit codes that count as success (default `[0]`).
- `fail_if_output_matches`: a regular expression; a run whose captured output matches it
  failed, whatever its exit code. Checked at write time and bounded in cost (`check_pattern`,
  `output_matches`): no nested repetition, no backreference, at most `MAX_REPEATS` unbounded
  repetitions, and matched line by line on lines cut to `MAX_LINE` characters, so the worst
  case is polynomial in a bounded size.
- `expected_duration`: a run still going past it is flagged `slow` (and notified), not killed.
- `output_limit`: the cap on each of a run's output files (`model.sizes`); null: the
  daemon's `output_limit`.

Whether the names in `after`/`on_failure` exist and form no cycle needs the other jobs: that
is `planning.dependencies.check_graph`, run by the API before the write. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

# The parser of `re`: the only way to look at a pattern's structure without a new dependency.
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from raftcron.durations import format_duration
from raftcron.model import checks as c
from raftcron.model.sizes import output_limit

FIELDS = ("after", "on_failure", "pause_after_failures", "success_exit_codes",
          "fail_if_output_matches", "expected_duration", "output_limit")
#: Set by the server: why the job was paused by `pause_after_failures` (null otherwise).
READ_ONLY_FIELDS = ("pause_reason",)
MAX_DEPENDENCIES = 32
MAX_PAUSE_AFTER = 1000
MAX_PATTERN = 512
MAX_REPEATS = 3
#: Characters of each output line the pattern is matched against.
MAX_LINE = 512
MAX_EXPECTED_DURATION = timedelta(days=30)

_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT,
            getattr(sre_parse, "POSSESSIVE_REPEAT", sre_parse.MAX_REPEAT)}
_MAXREPEAT = sre_parse.MAXREPEAT


def rules_from_dict(get: Callable[[str], Any], name: str) -> dict[str, Any]:
    """The `Job` keyword arguments of these fields, validated (`ValidationError` naming one)."""
    after = _names(get("after"), "after", name)
    on_failure = _names(get("on_failure"), "on_failure", name)
    codes = get("success_exit_codes")
    if codes is None:
        codes = [0]
    if not isinstance(codes, list | tuple) or not codes:
        raise c.fail("success_exit_codes", "expected a non-empty list of exit codes (0-255)")
    exit_codes = [c.integer(v, f"success_exit_codes.{i}", minimum=0, maximum=255)
                  for i, v in enumerate(codes)]
    if len(set(exit_codes)) != len(exit_codes):
        raise c.fail("success_exit_codes", "lists an exit code twice")
    pattern = get("fail_if_output_matches")
    if pattern is not None:
        pattern = check_pattern(pattern, "fail_if_output_matches")
    expected = c.opt_duration(get("expected_duration"), "expected_duration",
                              maximum=MAX_EXPECTED_DURATION)
    if expected is not None and not expected:
        raise c.fail("expected_duration", "must be longer than 0s")
    return {
        "after": after,
        "on_failure": on_failure,
        "pause_after_failures": c.opt_integer(get("pause_after_failures"),
                                              "pause_after_failures", minimum=1,
                                              maximum=MAX_PAUSE_AFTER),
        "success_exit_codes": sorted(exit_codes),
        "fail_if_output_matches": pattern,
        "expected_duration": expected,
        "output_limit": output_limit(get("output_limit")),
    }


def rules_to_dict(job: Any) -> dict[str, Any]:
    """These fields of a `Job`, in `FIELDS` order (the canonical form)."""
    return {
        "after": list(job.after),
        "on_failure": list(job.on_failure),
        "pause_after_failures": job.pause_after_failures,
        "success_exit_codes": list(job.success_exit_codes),
        "fail_if_output_matches": job.fail_if_output_matches,
        "expected_duration": (None if job.expected_duration is None
                              else format_duration(job.expected_duration)),
        "output_limit": job.output_limit,
    }


def _names(value: Any, field: str, name: str) -> list[str]:
    names = c.string_list([] if value is None else value, field, item=c.name)
    if len(names) > MAX_DEPENDENCIES:
        raise c.fail(field, f"at most {MAX_DEPENDENCIES} jobs")
    if name in names:
        raise c.fail(field, f"job {name!r} cannot depend on itself")
    return names


def check_pattern(value: Any, field: str) -> str:
    """A regular expression whose matching cost is bounded (see the module docstring)."""
    text = c.string(value, field, max_len=MAX_PATTERN)
    try:
        parsed = sre_parse.parse(text)
    except (re.error, RecursionError, OverflowError) as exc:
        raise c.fail(field, f"is not a valid regular expression: {exc}") from None
    unbounded = _walk(parsed, field, inside_repeat=False)
    if unbounded > MAX_REPEATS:
        raise c.fail(field, f"has {unbounded} unbounded repetitions (* + {{n,}}); at most "
                            f"{MAX_REPEATS} keep its matching time bounded")
    return text


def _walk(items: Any, field: str, *, inside_repeat: bool) -> int:
    """Count unbounded repetitions; refuse nested repetition and backreferences."""
    count = 0
    for op, av in items:
        if op in _REPEATS:
            _low, high, sub = av
            if inside_repeat and high > 1:
                raise c.fail(field, "nested repetition (like (a+)+) can take exponential "
                                    "time; write it without")
            count += high == _MAXREPEAT
            count += _walk(sub, field, inside_repeat=inside_repeat or high > 1)
        elif op in (sre_parse.GROUPREF, sre_parse.GROUPREF_EXISTS):
            raise c.fail(field, "backreferences are not allowed (unbounded matching time)")
        elif op == sre_parse.SUBPATTERN:
            count += _walk(av[-1], field, inside_repeat=inside_repeat)
        elif op == sre_parse.BRANCH:
            count += sum(_walk(b, field, inside_repeat=inside_repeat) for b in av[1])
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            count += _walk(av[1], field, inside_repeat=inside_repeat)
        elif op == getattr(sre_parse, "ATOMIC_GROUP", None):
            count += _walk(av, field, inside_repeat=inside_repeat)
    return count


def output_matches(pattern: str, *texts: str) -> bool:
    """Whether `pattern` (already checked) matches a line of `texts`, each line cut to
    `MAX_LINE` characters."""
    rx = re.compile(pattern)
    for text in texts:
        for line in text.splitlines():
            if rx.search(line[:MAX_LINE]):
                return True
    return False
