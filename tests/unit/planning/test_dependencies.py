"""The pure decisions of dependencies, backfill and pause on failure (`planning.dependencies`),
as tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from raftcron.errors import ValidationError
from raftcron.planning.dependencies import (
    TooManySlots,
    after_parent,
    backfill_slots,
    check_graph,
    consecutive_failures,
    final_failure,
    find_cycle,
    pause_text,
)
from raftcron.schedule import parse

GRAPH = {"a": ([], []), "b": (["a"], []), "c": (["b"], ["alert"]), "alert": ([], [])}


@pytest.mark.parametrize("name, after, on_failure, words", [
    ("d", ["a", "b"], [], None),
    ("d", [], ["alert"], None),
    ("b", ["a"], [], None),                                   # rewrite, unchanged
    ("d", ["x", "a", "y"], [], "after: no job named 'x', 'y'"),
    ("d", [], ["nope"], "on_failure: no job named 'nope'"),
    ("d", ["d"], [], "after: job 'd' cannot depend on itself"),
    ("d", [], ["d"], "on_failure: job 'd' cannot depend on itself"),
    ("a", ["c"], [], "after: a cycle of dependencies: a -> b -> c -> a"),
    ("alert", [], ["c"], "on_failure: a cycle of dependencies: alert -> c -> alert"),
])
def test_dependencies_check_graph(name, after, on_failure, words) -> None:
    if words is None:
        check_graph(name, after, on_failure, GRAPH)
        return
    with pytest.raises(ValidationError) as exc:
        check_graph(name, after, on_failure, GRAPH)
    assert exc.value.message == words
    assert exc.value.field == words.split(":")[0]


def test_dependencies_find_cycle_is_none_for_a_dag() -> None:
    assert find_cycle(GRAPH) is None
    assert find_cycle({"x": (["y"], []), "y": (["x"], [])}) == ["x", "y", "x"]


S = lambda i, t: {"id": i, "finished_at": t}  # noqa: E731


@pytest.mark.parametrize("after, successes, last, parent", [
    ([], {}, None, None),
    (["a"], {"a": None}, None, None),
    (["a"], {"a": S("r1", "2024-05-01T10:00:00Z")}, None, "r1"),
    (["a"], {"a": S("r1", "2024-05-01T10:00:00Z")}, "2024-05-01T10:00:01Z", None),
    (["a"], {"a": S("r1", "2024-05-01T10:00:00.5Z")}, "2024-05-01T10:00:00Z", "r1"),
    (["a", "b"], {"a": S("r1", "2024-05-01T10:00:05Z"), "b": None}, None, None),
    (["a", "b"], {"a": S("r1", "2024-05-01T10:00:05Z"), "b": S("r2", "2024-05-01T10:00:07Z")},
     None, "r2"),
    (["a", "b"], {"a": S("r1", "2024-05-01T10:00:05Z"), "b": S("r2", "2024-05-01T10:00:07Z")},
     "2024-05-01T10:00:06Z", None),                           # a succeeded before the last run
    (["a", "b"], {"a": S("r9", "2024-05-01T10:00:07Z"), "b": S("r2", "2024-05-01T10:00:07Z")},
     None, "r9"),                                             # a tie: the larger id
])
def test_dependencies_after_parent(after, successes, last, parent) -> None:
    assert after_parent(after, successes, last) == parent


R = lambda i, status, attempt=1, fired="2024-05-01T10:00:00Z": {  # noqa: E731
    "id": i, "status": status, "attempt": attempt, "fired_at": fired}


@pytest.mark.parametrize("runs, retries, since, expected", [
    ([], 0, None, (0, None)),
    ([R("3", "failed"), R("2", "failed"), R("1", "succeeded")], 0, None, (2, "3")),
    ([R("3", "failed"), R("2", "skipped"), R("1", "timed_out")], 0, None, (2, "3")),
    ([R("3", "running"), R("2", "failed")], 0, None, (0, None)),
    # With a retry left a failure is not the slot's outcome.
    ([R("4", "failed", 2), R("3", "failed", 1), R("2", "lost", 2), R("1", "failed", 1)], 1,
     None, (2, "4")),
    ([R("3", "failed", fired="2024-05-01T12:00:00Z"), R("2", "failed")], 0,
     "2024-05-01T11:00:00Z", (1, "3")),
])
def test_dependencies_consecutive_failures(runs, retries, since, expected) -> None:
    assert consecutive_failures(runs, retries, since=since) == expected


@pytest.mark.parametrize("status, attempt, retries, final", [
    ("failed", 1, 0, True), ("lost", 1, 0, True), ("timed_out", 3, 2, True),
    ("failed", 2, 2, False), ("succeeded", 1, 0, False), ("cancelled", 1, 0, False),
])
def test_dependencies_final_failure(status, attempt, retries, final) -> None:
    assert final_failure({"status": status, "attempt": attempt}, retries) is final


def test_dependencies_pause_text_names_count_and_run() -> None:
    assert pause_text(3, "r-7") == "paused after 3 consecutive failures; last run r-7"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_dependencies_backfill_slots_oldest_first_inclusive() -> None:
    s = parse("0 * * * *", tz="UTC", name="j")
    slots = backfill_slots(s, _t("2024-05-01T10:00:00"), _t("2024-05-01T13:00:00"), 1000)
    assert [x.astimezone(UTC).hour for x in slots] == [10, 11, 12, 13]


def test_dependencies_backfill_over_the_cap_says_how_many() -> None:
    s = parse("* * * * *", tz="UTC", name="j")
    with pytest.raises(TooManySlots) as exc:
        backfill_slots(s, _t("2024-05-01T00:00:00"), _t("2024-05-02T00:00:00"), 1000)
    assert exc.value.count == 1441
    assert "1441 slots" in exc.value.message and exc.value.field == "to"


def test_dependencies_backfill_range_backwards_is_refused() -> None:
    s = parse("* * * * *", tz="UTC", name="j")
    with pytest.raises(ValidationError):
        backfill_slots(s, _t("2024-05-02T00:00:00"), _t("2024-05-01T00:00:00"), 10)
