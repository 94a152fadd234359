"""Run output files follow the runs' retention: a replicated prune deletes them on every peer,
and a sweep removes the files of runs the copy no longer has (a deleted job's runs)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from raftcron.db.reader import ReadDb
from raftcron.model import commands
from raftcron.state.machine import StateMachine
from raftcron.worker.output_retention import OutputJanitor, delete_outputs, sweep
from tests.support.fake_node import FakeNode
from tests.support.records import job_body, run_record
from tests.support.wait import wait_until_async

SELF = "127.0.0.1:7101"
AT = "2030-01-01T03:00:00Z"


class Copy:
    """A real state machine and its read side, fed commands in order by a `FakeNode`."""

    def __init__(self, root: Path) -> None:
        self.state = StateMachine(root / "state.sqlite3")
        self.read = ReadDb(root / "state.sqlite3")
        self.node = FakeNode(self.state, SELF)

    def apply(self, op: str, args: dict) -> dict:
        return self.node.apply(op, args)


def job(name: str) -> dict:
    return job_body(name, type="command", command=["true"], paused=False)


def record(run_id: str, job_name: str, slot: str) -> dict:
    return run_record(run_id, job_name, slot, peer=SELF)


def write_output(output_dir: Path, run_id: str, age: float = 0.0) -> None:
    output_dir.mkdir(exist_ok=True)
    for stream in ("stdout", "stderr"):
        path = output_dir / f"{run_id}.{stream}"
        path.write_text("output")
        if age:
            old = time.time() - age
            os.utime(path, (old, old))


async def test_output_janitor_deletes_the_files_of_pruned_runs(tmp_path: Path) -> None:
    copy = Copy(tmp_path)
    out = tmp_path / "output"
    copy.apply("put_job", {"job": job("a"), "expanded": "0 * * * *", "at": AT})
    copy.apply("fire", {"runs": [record("r1", "a", "2030-01-01T04:00:00Z"),
                                 record("r2", "a", "2030-01-01T05:00:00Z")], "at": AT})
    for run_id in ("r1", "r2"):
        copy.apply("run_finished", {"run_id": run_id, "status": "succeeded", "exit_code": 0,
                                    "stdout_tail": "", "stderr_tail": "", "reason": None,
                                    "at": AT, "output_bytes": 6})
        write_output(out, run_id)
    janitor = OutputJanitor(read=copy.read, output_dir=out)
    copy.node.add_apply_listener(janitor.on_applied)
    copy.apply("batch", {"commands": [commands.batch_entry("prune_runs", {"run_ids": ["r1"]})]})
    await wait_until_async(lambda: not (out / "r1.stdout").exists(), 10, "r1's output to go")
    assert not (out / "r1.stdout").exists() and not (out / "r1.stderr").exists()
    assert (out / "r2.stdout").exists() and (out / "r2.stderr").exists()


async def test_output_janitor_sweep_removes_a_deleted_jobs_files_once_old(tmp_path: Path) -> None:
    copy = Copy(tmp_path)
    out = tmp_path / "output"
    copy.apply("put_job", {"job": job("a"), "expanded": "0 * * * *", "at": AT})
    copy.apply("put_job", {"job": job("b"), "expanded": "0 * * * *", "at": AT})
    copy.apply("fire", {"runs": [record("ra", "a", "2030-01-01T04:00:00Z"),
                                 record("rb", "b", "2030-01-01T04:00:00Z")], "at": AT})
    write_output(out, "ra", age=3600)
    write_output(out, "rb", age=3600)
    write_output(out, "fresh", age=0)  # a run this copy has not applied yet: kept
    copy.apply("delete_job", {"name": "a", "at": AT})
    janitor = OutputJanitor(read=copy.read, output_dir=out, min_age=60)
    assert await janitor.sweep_once() == 2
    assert sorted(p.name for p in out.iterdir()) == [
        "fresh.stderr", "fresh.stdout", "rb.stderr", "rb.stdout"]


def test_output_retention_never_leaves_the_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.mkdir()
    outside = tmp_path / "x.stdout"
    outside.write_text("keep")
    assert delete_outputs(out, ["../x", "..", "", "a/b"]) == 0
    assert outside.exists()
    assert sweep(tmp_path / "missing", lambda _: False, min_age=0, now=time.time()) == 0
