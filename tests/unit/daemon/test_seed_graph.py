"""Seeding from `--jobs-dir` checks `after`/`on_failure` like the API: a file's job that names
a missing job or closes a cycle is not written (and counted failed); the others are."""

from __future__ import annotations

from pathlib import Path

from raftcron.clock import FakeClock
from raftcron.daemon.seed_files import seed
from raftcron.db.reader import ReadDb
from raftcron.model import job_from_dict
from raftcron.model.commands import VERSION
from raftcron.state.machine import StateMachine
from tests.support.fake_node import FakeNode
from tests.support.scheduler import T0


def job(name: str, **fields):
    return job_from_dict({"name": name, "schedule": "0 * * * *", "command": "true", **fields})


async def test_seed_skips_a_file_job_that_closes_a_cycle_or_names_a_missing_job(
        tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "state.db")
    read = ReadDb(tmp_path / "state.db")
    node = FakeNode(sm)
    for peer in node.peers:
        peer["command_version"] = VERSION
    try:
        files = [(job("a"), "a.toml"), (job("b", after=["a"]), "b.toml"),
                 (job("c", after=["d"]), "c.toml"), (job("d", after=["c"]), "d.toml"),
                 (job("e", on_failure=["zz"]), "e.toml")]
        report = await seed(node=node, read=read, clock=FakeClock(T0), jobs=files, nodes=[])
        assert report.failed == 3
        assert sorted(j["name"] for j in read.list_jobs(limit=100)[0]) == ["a", "b"]
    finally:
        read.close()
        sm.close()
