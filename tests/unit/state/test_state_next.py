"""The next fire time in the replicated state (schema 3, command version 3): apply stores
what the proposer carried (`next`), never computes it, and a fire's `next` only moves forward
with the fence. A table of commands against the stored (next_slot, next_fire_at)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from raftcron.db.sqlite import SCHEMA_VERSION
from raftcron.model.commands import encode, version_of
from raftcron.state.machine import StateMachine
from tests.support.paths import DATA
from tests.support.state import Log

T0 = "2024-05-01T10:00:00Z"
H = [f"2024-05-01T{h:02d}:00:00Z" for h in range(24)]
V1_COPY = DATA / "state" / "state-v1.sqlite3"


def nxt(hour: int, jitter_s: int = 0) -> dict[str, str]:
    return {"slot": H[hour], "fire_at": H[hour].replace(":00Z", f":{jitter_s:02d}Z")}


def put(name: str = "j", **extra: Any) -> dict[str, Any]:
    return {"job": {"name": name, "schedule": "0 * * * *"}, "expanded": "0 * * * *",
            "at": T0, **extra}


def rec(run_id: str, hour: int, job: str = "j") -> dict[str, Any]:
    return {"run_id": run_id, "job": job, "slot": H[hour], "peer": "p1", "fired_at": H[hour]}


def fire(runs: list[dict], **extra: Any) -> dict[str, Any]:
    return {"runs": runs, "at": T0, **extra}


def stored(sm: StateMachine, name: str = "j") -> tuple[str | None, str | None]:
    row = sm.dump()["jobs"]
    cols = {r[0]: r for r in row}
    return cols[name][11], cols[name][12]


def db(t: str | None) -> str | None:
    return None if t is None else t.replace("Z", ".000000Z")


@pytest.fixture
def sm(tmp_path: Path):
    machine = StateMachine(tmp_path / "state.db")
    yield machine
    machine.close()


# (commands after put_job with next at hour 11, the stored next hour or None)
CASES = [
    ("put without next: not known", [("put_job", put())], None),
    ("fire moves it forward", [("fire", fire([rec("r1", 11)], next={"j": nxt(12)}))], 12),
    ("fire without records fills it forward", [("fire", fire([], next={"j": nxt(12)}))], 12),
    ("a slot not after the cursor is refused",
     [("fire", fire([rec("r1", 11)], next={"j": nxt(11)}))], 11),
    ("never backward", [("fire", fire([rec("r1", 11)], next={"j": nxt(13)})),
                        ("fire", fire([], next={"j": nxt(12)}))], 13),
    ("a pause clears it and a fire does not set it",
     [("set_paused", {"name": "j", "paused": True, "at": T0}),
      ("fire", fire([], next={"j": nxt(14)}))], None),
    ("resume stores the proposer's",
     [("set_paused", {"name": "j", "paused": True, "at": T0}),
      ("set_paused", {"name": "j", "paused": False, "at": T0, "next": nxt(15, 7)})], 15),
    ("a replace stores the proposer's, backward too",
     [("fire", fire([rec("r1", 11)], next={"j": nxt(16)})),
      ("put_job", put(next=nxt(12)))], 12),
]


@pytest.mark.parametrize(("why", "commands", "hour"), CASES, ids=[c[0] for c in CASES])
def test_state_next_fire_time_is_stored_from_the_command(sm, why, commands, hour) -> None:
    log = Log(sm)
    assert log("put_job", put(next=nxt(11)))["ok"]
    for op, args in commands:
        assert log(op, args)["ok"], (op, args)
    slot, fire_at = stored(sm)
    if hour is None:
        assert (slot, fire_at) == (None, None)
    else:
        assert slot == db(H[hour])
        jitter = 7 if why.startswith("resume") else 0
        assert fire_at == db(H[hour].replace(":00Z", f":{jitter:02d}Z"))


def test_state_fire_result_names_the_next_times_stored(sm) -> None:
    log = Log(sm)
    log("put_job", put(next=nxt(11)))
    log("put_job", put("k", next=nxt(11)))
    result = log("fire", fire([rec("r1", 11)], next={"j": nxt(12), "k": nxt(10)}))
    assert result["next_stored"] == ["j"]  # k's would move backward
    assert "next_stored" not in log("fire", fire([rec("r2", 12)]))


def test_state_next_is_deterministic_across_copies(tmp_path: Path) -> None:
    entries = [("put_job", put(next=nxt(11))), ("fire", fire([rec("r1", 11)],
                                                            next={"j": nxt(12)})),
               ("set_paused", {"name": "j", "paused": True, "at": T0}),
               ("set_paused", {"name": "j", "paused": False, "at": T0, "next": nxt(13)})]
    dumps = []
    for i in range(2):
        machine = StateMachine(tmp_path / f"copy{i}.db")
        for index, (op, args) in enumerate(entries, 1):
            machine.apply(index, encode(op, args))
        dumps.append(machine.dump())
        machine.close()
    assert dumps[0] == dumps[1]


def test_commands_next_needs_version_3_and_old_commands_keep_theirs() -> None:
    assert version_of("put_job", put()) == 1
    assert version_of("put_job", put(next=nxt(1))) == 3
    assert version_of("fire", fire([rec("r", 1)])) == 1
    assert version_of("fire", fire([], next={"j": nxt(1)})) == 3
    assert version_of("set_paused", {"name": "j", "paused": False, "at": T0,
                                     "next": nxt(1)}) == 3


def test_state_schema_1_copy_migrates_to_3_with_next_unknown(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    shutil.copy(V1_COPY, path)
    machine = StateMachine(path)
    try:
        assert all(row[11] is None and row[12] is None for row in machine.dump()["jobs"])
    finally:
        machine.close()
    conn = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "jobs_status_next_fire_at" in indexes
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
    finally:
        conn.close()
