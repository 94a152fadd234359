"""The state machine's core: index replay, idempotency keys, batches, decode errors, bad
arguments as results, and determinism (two copies fed the same entries are identical)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftcron.errors import CommandDecodeError
from raftcron.model.commands import ARGS, encode
from raftcron.state import machine as state_module
from raftcron.state.machine import StateMachine
from tests.support.records import job_body, put_job_args, run_record
from tests.support.state import Log as SharedLog

AT = "2024-05-01T10:00:00Z"


class Log(SharedLog):
    """Feeds a StateMachine entries at increasing indexes, as pysyncobj would."""

    def raw(self, payload: bytes) -> dict:
        self.index += 1
        return self.sm.apply(self.index, payload)


@pytest.fixture
def sm(tmp_path: Path):
    machine = StateMachine(tmp_path / "state.db")
    yield machine
    machine.close()


def put(name: str = "backup", **extra: Any) -> dict[str, Any]:
    return put_job_args(job_body(name, **extra), AT)


def record(run_id: str, slot: str, job: str = "backup", **extra: Any) -> dict[str, Any]:
    return run_record(run_id, job, slot, **extra)


def test_state_new_copy_starts_at_index_zero(sm: StateMachine) -> None:
    assert sm.applied_index == 0
    assert sm.dump()["jobs"] == []


def test_state_replayed_index_is_a_noop(sm: StateMachine) -> None:
    assert sm.apply(1, encode("put_job", put()))["created"] is True
    before = sm.dump()
    again = sm.apply(1, encode("put_job", put(description="other")))
    assert again == {"ok": True, "duplicate_index": True}
    assert sm.apply(0, b"garbage") == {"ok": True, "duplicate_index": True}
    assert sm.dump() == before


def test_state_index_gaps_are_accepted(sm: StateMachine) -> None:
    # pysyncobj's own entries (no-ops on election, membership) never reach apply.
    sm.apply(5, encode("noop", {}))
    sm.apply(9, encode("noop", {}))
    assert sm.applied_index == 9


def test_state_applied_index_survives_reopen(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    sm.apply(7, encode("put_job", put()))
    sm.close()
    again = StateMachine(tmp_path / "s.db")
    assert again.applied_index == 7
    assert again.apply(7, encode("delete_job", {"name": "backup", "at": AT}))["duplicate_index"]
    assert len(again.dump()["jobs"]) == 1
    again.close()


def test_state_repeated_key_returns_stored_result_and_changes_nothing(sm: StateMachine) -> None:
    log = Log(sm)
    first = log("put_job", put(), key="k1")
    assert first == {"ok": True, "created": True, "version": 1, "status": "scheduled"}
    jobs = sm.dump()["jobs"]
    second = log("put_job", put(description="changed"), key="k1")
    assert second == first
    assert sm.dump()["jobs"] == jobs
    assert sm.applied_index == 2
    assert sm.result_for_key("k1") == first
    assert sm.result_for_key("unknown") is None


def test_state_key_of_a_business_error_is_remembered(sm: StateMachine) -> None:
    log = Log(sm)
    missing = log("delete_job", {"name": "ghost", "at": AT}, key="d1")
    assert missing["ok"] is False and missing["error"] == "not_found"
    log("put_job", put("ghost"))
    # The retry of the same request gets the same answer, though the job now exists.
    assert log("delete_job", {"name": "ghost", "at": AT}, key="d1") == missing
    assert [r[0] for r in sm.dump()["jobs"]] == ["ghost"]


def test_state_keys_are_forgotten_after_retention(sm: StateMachine, monkeypatch) -> None:
    monkeypatch.setattr(state_module, "KEY_RETENTION", 10)
    log = Log(sm)
    log("put_job", put(), key="old")
    for _ in range(10):
        log("noop", {})
    assert sm.result_for_key("old") is None
    assert log("put_job", put(), key="old")["created"] is False


def test_state_batch_applies_entries_in_order(sm: StateMachine) -> None:
    log = Log(sm)
    log("put_job", put())
    log("fire", {"runs": [record("r1", "2024-05-01T10:00:00Z")], "at": AT})
    result = log("batch", {"commands": [
        {"op": "run_started", "key": None, "args": {"run_id": "r1", "peer": "p1", "at": AT}},
        {"op": "run_finished", "key": None,
         "args": {"run_id": "r1", "status": "succeeded", "exit_code": 0, "at": AT}},
        {"op": "run_lost", "key": None, "args": {"run_id": "r1", "at": AT}},
    ]})
    assert result["ok"] is True
    assert [r["ok"] for r in result["results"]] == [True, True, False]
    assert result["results"][2]["error"] == "not_active"
    assert sm.dump()["runs"][0][6] == "succeeded"


def test_state_batch_entry_keys_are_honoured(sm: StateMachine) -> None:
    log = Log(sm)
    entry = {"op": "put_job", "key": "e1", "args": put()}
    first = log("batch", {"commands": [entry]})["results"][0]
    replay = log("batch", {"commands": [entry, entry]})["results"]
    assert replay == [first, first]
    assert sm.dump()["jobs"][0][5] == 1  # version: applied once


def test_state_batch_inside_batch_is_a_business_error(sm: StateMachine) -> None:
    payload = json.dumps({"v": 1, "op": "batch", "key": None, "args": {"commands": [
        {"op": "batch", "key": None, "args": {"commands": []}},
        {"op": "noop", "key": None, "args": {}},
    ]}}).encode()
    result = sm.apply(1, payload)
    assert result["results"][0]["error"] == "invalid_args"
    assert result["results"][1] == {"ok": True}


@pytest.mark.parametrize("args", [{}, {"commands": "x"}, {"commands": [1]},
                                  {"commands": [{"op": "zap", "args": {}}]}])
def test_state_malformed_batch_is_a_business_error(sm: StateMachine, args: dict) -> None:
    payload = json.dumps({"v": 1, "op": "batch", "key": None, "args": args}).encode()
    result = sm.apply(1, payload)
    assert result["ok"] is False and result["error"] == "invalid_args"
    assert result["field"] == "commands"
    assert sm.applied_index == 1


@pytest.mark.parametrize(
    "payload",
    [b"", b"{", b"null", b'{"v": 99, "op": "noop", "key": null, "args": {}}',
     b'{"v": 1, "op": "explode", "key": null, "args": {}}', b'{"v": 1, "op": "noop"}'],
)
def test_state_corrupt_entry_raises_and_writes_nothing(sm: StateMachine, payload: bytes) -> None:
    sm.apply(1, encode("put_job", put()))
    before = sm.dump()
    with pytest.raises(CommandDecodeError):
        sm.apply(2, payload)
    assert sm.applied_index == 1
    assert sm.dump() == before
    assert sm.apply(2, encode("noop", {})) == {"ok": True}


@pytest.mark.parametrize(
    "op, args",
    [
        ("put_job", {"job": "backup", "at": AT}),
        ("put_job", {"job": {"name": 3}, "at": AT}),
        ("fire", {"runs": [{"run_id": 1}], "at": AT}),
        ("fire", {"runs": "all", "at": AT}),
        ("run_started", {"run_id": ["x"], "peer": "p", "at": AT}),
        ("run_finished", {"run_id": "r", "status": 0, "at": AT}),
        ("set_paused", {"name": "backup", "paused": "no", "at": AT}),
        ("prune_runs", {"run_ids": "r1"}),
        ("node_health", {"name": "n", "healthy": True, "at": 12}),
        ("delete_job", {"name": "backup", "at": "yesterday"}),
        ("noop", {"unexpected": True}),
    ],
)
def test_state_wrong_arg_types_are_results(sm: StateMachine, op: str, args: dict) -> None:
    payload = json.dumps({"v": 1, "op": op, "key": "k", "args": args}).encode()
    result = sm.apply(1, payload)
    assert result["ok"] is False and result["error"] == "invalid_args"
    assert result["field"]
    assert sm.applied_index == 1
    assert sm.result_for_key("k") == result


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", AT, "p1", "r1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=8,
)


@st.composite
def _random_entries(draw) -> tuple[str, dict]:
    op = draw(st.sampled_from(sorted(ARGS)))
    names = [*ARGS[op], "name", "run_id", "job", "runs"]
    args = draw(st.dictionaries(st.sampled_from(names), _json_values, max_size=5))
    return op, args


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(_random_entries(), min_size=1, max_size=6))
def test_state_arbitrary_arguments_never_raise(sm: StateMachine, entries) -> None:
    for op, args in entries:
        payload = json.dumps({"v": 1, "op": op, "key": None, "args": args}).encode()
        result = sm.apply(sm.applied_index + 1, payload)
        assert isinstance(result["ok"], bool)


def test_state_environment_failure_rolls_back_and_raises(sm: StateMachine, monkeypatch) -> None:
    sm.apply(1, encode("put_job", put()))
    before = sm.dump()

    def disk_full(conn, args):
        conn.execute("DELETE FROM jobs")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setitem(state_module.HANDLERS, "delete_job", disk_full)
    with pytest.raises(sqlite3.OperationalError):
        sm.apply(2, encode("delete_job", {"name": "backup", "at": AT}, key="k"))
    assert sm.applied_index == 1
    assert sm.dump() == before
    assert sm.result_for_key("k") is None


def test_state_handler_bug_is_a_result_and_leaves_nothing(sm: StateMachine, monkeypatch) -> None:
    sm.apply(1, encode("put_job", put()))
    before = sm.dump()["jobs"]

    def buggy(conn, args):
        conn.execute("DELETE FROM jobs")
        raise KeyError("oops")

    monkeypatch.setitem(state_module.HANDLERS, "delete_job", buggy)
    result = sm.apply(2, encode("delete_job", {"name": "backup", "at": AT}))
    assert result["ok"] is False and result["error"] == "internal"
    assert sm.applied_index == 2
    assert sm.dump()["jobs"] == before


def _scenario() -> list[tuple[str, dict, str | None]]:
    slots = [f"2024-05-01T1{h}:00:00Z" for h in range(4)]
    return [
        ("put_job", put("a", max_runs=3), "k1"),
        ("put_job", put("b", paused=True), None),
        ("put_node", {"node": {"name": "db1", "roles": ["db"]}, "at": AT}, None),
        ("fire", {"runs": [record("a1", slots[0], "a"), record("b1", slots[0], "b")], "at": AT},
         None),
        ("put_job", put("a", max_runs=3), "k1"),
        ("run_started", {"run_id": "a1", "peer": "p1", "at": slots[0]}, None),
        ("fire", {"runs": [record("a2", slots[1], "a", status="skipped", reason="forbid"),
                           record("a3", slots[0], "a")], "at": AT}, None),
        ("run_finished", {"run_id": "a1", "status": "failed", "exit_code": 1, "at": slots[1],
                          "stdout_tail": "x" * 70000}, None),
        ("fire", {"runs": [record("a4", slots[2], "a", retry_of="a1", attempt=2)], "at": AT},
         None),
        ("node_health", {"name": "db1", "healthy": False, "reason": "down", "at": AT}, None),
        ("set_paused", {"name": "b", "paused": False, "at": slots[2]}, "k2"),
        ("cancel_run", {"run_id": "a4", "at": slots[3]}, None),
        ("run_lost", {"run_id": "a4", "reason": "gone", "at": slots[3]}, None),
        ("prune_runs", {"run_ids": ["a2", "a4", "zz"]}, None),
        ("finish_job", {"name": "a", "at": slots[3]}, None),
        ("batch", {"commands": [{"op": "delete_node", "key": "k3", "args": {"name": "db1"}},
                                {"op": "noop", "key": None, "args": {}}]}, None),
    ]


def test_state_two_copies_fed_the_same_entries_are_identical(tmp_path: Path) -> None:
    one = StateMachine(tmp_path / "one.db")
    two = StateMachine(tmp_path / "two.db")
    results_one, results_two = [], []
    for i, (op, args, key) in enumerate(_scenario(), start=1):
        payload = encode(op, args, key)
        results_one.append(one.apply(i, payload))
        if i == 8:  # a restart of the second copy in the middle changes nothing
            two.close()
            two = StateMachine(tmp_path / "two.db")
        results_two.append(two.apply(i, payload))
        results_two.append(two.apply(i, payload))  # a replay after a restart is a no-op
        results_two.pop()
    assert results_one == results_two
    assert one.dump() == two.dump()
    assert one.dump()["runs"]  # the scenario did leave runs behind
    one.close()
    two.close()
