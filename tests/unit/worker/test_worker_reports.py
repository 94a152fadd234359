"""Reporter (coalescing, retries, settling) and StartedLog (durable started-run ids)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from raftcron.errors import UnavailableError
from raftcron.worker.reports import Reporter
from raftcron.worker.started_log import StartedLog
from tests.support.wait import wait_until_async

AT = "2024-06-01T12:00:00Z"


class Recorder:
    """A propose() that records calls, answers ok (or per-op results), can fail N times."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, str | None]] = []
        self.fail = 0
        self.answer: dict[str, dict] = {}
        #: When set, the next propose() waits for it (then fails or answers as usual).
        self.hold: asyncio.Event | None = None
        self.waiting = False

    async def propose(self, op, args, *, key=None, timeout=5.0):
        if self.hold is not None:
            self.waiting = True
            await self.hold.wait()
            self.hold = None
        if self.fail:
            self.fail -= 1
            raise UnavailableError("no leader")
        self.calls.append((op, args, key))
        if op == "batch":
            return {"ok": True, "results": [self._one(e["op"]) for e in args["commands"]]}
        return self._one(op)

    def _one(self, op: str) -> dict:
        return self.answer.get(op, {"ok": True})


async def _always(run_id: str) -> bool:
    return True


async def _never(run_id: str) -> bool:
    return False


def make(recorder: Recorder, active=_always, **kw) -> tuple[Reporter, list]:
    settled: list[tuple[str, str]] = []
    reporter = Reporter(
        propose=recorder.propose,
        is_active=active,
        on_settled=lambda op, rid: settled.append((op, rid)),
        backoff=0.001,
        **kw,
    )
    reporter.start()
    return reporter, settled


def finished(run_id: str) -> dict:
    return {"run_id": run_id, "status": "succeeded", "exit_code": 0, "at": AT}


async def test_reporter_coalesces_events_into_one_batch():
    rec = Recorder()
    reporter, settled = make(rec)
    for i in range(5):
        reporter.report("run_finished", f"r{i}", finished(f"r{i}"))
    assert await reporter.wait_idle(10)
    [(op, args, key)] = rec.calls
    assert op == "batch" and key.startswith("reports:")
    assert [e["key"] for e in args["commands"]] == [f"finished:r{i}" for i in range(5)]
    assert sorted(settled) == [("run_finished", f"r{i}") for i in range(5)]
    await reporter.close()


async def test_reporter_single_event_is_proposed_alone_with_its_key():
    rec = Recorder()
    reporter, _ = make(rec)
    reporter.report("run_lost", "r1", {"run_id": "r1", "reason": "x", "at": AT})
    assert await reporter.wait_idle(10)
    assert rec.calls == [("run_lost", {"run_id": "r1", "reason": "x", "at": AT}, "lost:r1")]
    await reporter.close()


async def test_reporter_drops_started_superseded_by_finished():
    rec = Recorder()
    reporter, _ = make(rec)
    reporter.report("run_started", "r1", {"run_id": "r1", "peer": "p:1", "at": AT})
    reporter.report("run_finished", "r1", finished("r1"))
    assert await reporter.wait_idle(10)
    assert [(op, key) for op, _, key in rec.calls] == [("run_finished", "finished:r1")]
    assert reporter.events == 2
    await reporter.close()


async def test_reporter_retries_with_same_keys_after_unavailable():
    rec = Recorder()
    rec.fail = 2
    reporter, settled = make(rec)
    reporter.report("run_finished", "r1", finished("r1"))
    assert await reporter.wait_idle(10)
    assert [key for _, _, key in rec.calls] == ["finished:r1"]
    assert reporter.retries == 2 and settled == [("run_finished", "r1")]
    await reporter.close()


async def test_reporter_failed_start_superseded_by_finish_is_not_resent():
    rec = Recorder()
    rec.fail = 1
    rec.hold = asyncio.Event()
    reporter, settled = make(rec)
    reporter.report("run_started", "r1", {"run_id": "r1", "peer": "p:1", "at": AT})
    await wait_until_async(lambda: rec.waiting, message="the first proposal")
    reporter.report("run_finished", "r1", finished("r1"))  # while the start is in flight
    rec.hold.set()  # ... and then the start's proposal fails
    assert await reporter.wait_idle(10)
    assert [key for _, _, key in rec.calls] == ["finished:r1"]
    assert ("run_finished", "r1") in settled
    await reporter.close()


async def test_reporter_gives_up_on_runs_no_longer_active():
    rec = Recorder()
    rec.fail = 1
    reporter, settled = make(rec, active=_never)
    reporter.report("run_finished", "r1", finished("r1"))
    assert await reporter.wait_idle(10)
    assert rec.calls == []
    assert settled == [("run_finished", "r1")]
    await reporter.close()


async def test_reporter_refusal_settles_without_retry():
    rec = Recorder()
    rec.answer["run_finished"] = {"ok": False, "error": "not_active", "message": "lost"}
    reporter, settled = make(rec)
    reporter.report("run_finished", "r1", finished("r1"))
    assert await reporter.wait_idle(10)
    assert len(rec.calls) == 1 and settled == [("run_finished", "r1")]
    await reporter.close()


async def test_reporter_invalid_event_is_dropped():
    rec = Recorder()
    reporter, _ = make(rec)
    reporter.report("run_finished", "r1", {"run_id": "r1", "status": "bogus", "at": AT})
    assert reporter.pending == 0 and reporter.events == 0
    await reporter.close()


async def test_started_log_records_loads_and_ignores_torn_line(tmp_path: Path):
    log = StartedLog(tmp_path)
    await log.record("a")
    await log.record("b")
    with open(tmp_path / "started.log", "a") as f:
        f.write("torn-wit")  # a crash in the middle of an append
    assert StartedLog(tmp_path).load() == {"a", "b"}


async def test_started_log_group_commits_concurrent_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    log = StartedLog(tmp_path)
    await asyncio.gather(*(log.record(f"r{i}") for i in range(50)))
    assert log.load() == {f"r{i}" for i in range(50)}
    assert len(fsyncs) < 50


async def test_started_log_rewrite_is_atomic_and_reads_keep_under_lock(tmp_path: Path):
    log = StartedLog(tmp_path)
    for rid in ("a", "b", "c"):
        await log.record(rid)
    keep = {"b"}
    rewrite = asyncio.create_task(log.rewrite(lambda: set(keep)))
    keep.add("d")  # recorded before the rewrite took the lock: must survive it
    await rewrite
    assert log.load() == {"b", "d"}
    assert not (tmp_path / "started.log.tmp").exists()
    assert log.lines == 2


async def test_started_log_refuses_id_with_newline(tmp_path: Path):
    with pytest.raises(ValueError):
        await StartedLog(tmp_path).record("a\nb")
