"""build_run_spec: from a run record and its job dict to what an executor runs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from raftcron.errors import ValidationError
from raftcron.model import Node
from raftcron.worker.run_spec import build_run_spec, run_id_of

RUN = {"run_id": "r1", "job": "backup", "slot": "2024-06-01T12:00:00Z", "attempt": 2}


def job(**fields) -> dict:
    base = {
        "name": "backup",
        "type": "command",
        "command": ["/bin/backup", "--full"],
        "status": "scheduled",
        "version": 3,
        "next_runs": [],
    }  # server fields are ignored
    base.update(fields)
    return base


def test_worker_spec_command_job():
    spec = build_run_spec(
        RUN,
        job(env={"A": 1}, cwd="/tmp", timeout="90s", output_tail=100),
        self_id="p:1",
        target=None,
    )
    assert spec.command == ["/bin/backup", "--full"]
    assert (spec.run_id, spec.job, spec.attempt, spec.peer) == ("r1", "backup", 2, "p:1")
    assert spec.slot == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert spec.env == {"A": "1"} and spec.cwd == "/tmp"
    assert spec.timeout == timedelta(seconds=90)
    assert spec.kill_grace == timedelta(seconds=5)
    assert spec.output_tail == 100 and spec.script is None


def test_worker_spec_string_command_and_defaults():
    spec = build_run_spec(
        {"id": "r2", **{k: v for k, v in RUN.items() if k != "run_id"}},
        job(command="echo hi", kill_grace="1s"),
        self_id="p:1",
        target=None,
    )
    assert spec.run_id == "r2" and spec.command == "echo hi"
    assert spec.timeout is None and spec.kill_grace == timedelta(seconds=1)
    assert spec.output_tail == 4096


def test_worker_spec_script_gets_default_interpreter():
    content = base64.b64encode(b"echo hi\n").decode()
    spec = build_run_spec(
        RUN, job(type="script", command=None, script=content), self_id="p:1", target=None
    )
    assert spec.script == b"echo hi\n" and spec.interpreter == ["/bin/sh"]
    spec = build_run_spec(
        RUN,
        job(type="script", script=content, interpreter="python3 -u"),
        self_id="p:1",
        target=None,
    )
    assert spec.interpreter == ["python3", "-u"]


def test_worker_spec_binary_runs_directly():
    content = base64.b64encode(b"\x7fELF...").decode()
    spec = build_run_spec(
        RUN, job(type="binary", script=content, interpreter=["/bin/sh"]), self_id="p:1", target=None
    )
    assert spec.interpreter is None and spec.script == b"\x7fELF..."


def test_worker_spec_target_node_is_kept():
    node = Node(name="db1")
    spec = build_run_spec(RUN, job(), self_id="p:1", target=node)
    assert spec.target is node and spec.target_name == "db1"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"command": None}, "command"),
        ({"type": "script", "script": "not base64!!"}, "script"),
        ({"type": "script", "script": None}, "script"),
        ({"type": "rocket"}, "type"),
        ({"env": ["A=1"]}, "env"),
        ({"timeout": "soon"}, "timeout"),
        ({"output_tail": -1}, "output_tail"),
        ({"type": "script", "script": "ZWNobwo=", "interpreter": 5}, "interpreter"),
    ],
)
def test_worker_spec_bad_job_names_the_field(fields, field):
    with pytest.raises(ValidationError) as err:
        build_run_spec(RUN, job(**fields), self_id="p:1", target=None)
    assert err.value.field == field


def test_worker_spec_run_id_required():
    with pytest.raises(ValidationError) as err:
        run_id_of({"job": "x"})
    assert err.value.field == "run_id"
