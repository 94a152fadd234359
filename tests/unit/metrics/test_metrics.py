"""The metrics' own parts: reason classes (the same in Python and in SQL), which fire results
count as missed/skipped, and one registry per peer (several in one process stay apart)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from raftcron.db.reader import ReadDb
from raftcron.metrics.prom import PeerMetrics
from raftcron.metrics.recorder import (
    OTHER_REASON,
    REASON_CLASSES,
    accepted_not_run,
    reason_class,
    reason_labels,
)
from raftcron.planning.placement import NO_TARGET_REASON
from raftcron.planning.slots import PAUSED_REASON
from raftcron.state.machine import StateMachine
from tests.support.api import LiveApi, fire_record, job_body
from tests.support.fake_node import FakeNode

#: Reasons as the planner, the policies and the firing write them -> their class.
REASONS = {
    PAUSED_REASON: "paused",
    f"3 slots from 2030-01-01T00:00:00Z to 2030-01-01T00:02:00Z skipped: {PAUSED_REASON}":
        "paused",
    NO_TARGET_REASON: "no_target",
    f"retry 2 of r1: {NO_TARGET_REASON}": "no_target",
    "older than catchup_window 1h when scheduling resumed": "catchup_window",
    "beyond the catch-up cap of 5 late slots (catchup=all runs the newest)": "catchup_cap",
    "late and catchup=none": "catchup_none",
    "superseded by slot 2030-01-01T00:05:00Z (catchup=latest)": "superseded",
    "replaced by slot 2030-01-01T00:05:00Z (concurrency=replace)": "replaced",
    "queue full: slot 2030-01-01T00:05:00Z is waiting for run r9": "queue_full",
    "previous run r1 still running": "overlap",
    "something new": OTHER_REASON,
    "": OTHER_REASON,
}


@pytest.mark.parametrize(("reason", "label"), REASONS.items())
def test_reason_class_names_each_reason_the_scheduler_writes(reason: str, label: str) -> None:
    assert reason_class(reason) == label
    assert label in reason_labels()


def test_metric_counts_class_reasons_in_sql_as_reason_class_does(tmp_path: Path) -> None:
    api = LiveApi(tmp_path)
    try:
        api.request("POST", "/jobs", job_body("a"))
        records = []
        # `catchup_window` in LIKE would match this too (`_` is a wildcard there): not here.
        for i, reason in enumerate([*REASONS, "older than catchupXwindow"]):
            status = "missed" if i % 2 else "skipped"
            slot = (datetime(2030, 1, 1, 1, tzinfo=UTC) + timedelta(minutes=i)).isoformat()
            rec = fire_record("a", slot.replace("+00:00", "Z"), run_id=f"r{i}")
            rec.update(status=status, reason=reason or None)
            records.append(rec)
        api.apply("fire", {"runs": records, "at": "2030-01-01T02:00:00Z"})
        expected = Counter((r["status"], reason_class(r["reason"])) for r in records)
        counts = api.read.metric_counts(REASON_CLASSES, OTHER_REASON)
        assert counts["not_run"] == dict(expected)
        assert counts["by_status"] == {"missed": len(records) // 2,
                                       "skipped": len(records) - len(records) // 2}
    finally:
        api.close()


def test_accepted_not_run_counts_only_what_the_fence_let_in() -> None:
    missed = {"run_id": "m", "status": "missed", "reason": "late and catchup=none"}
    skipped = {"run_id": "s", "status": "skipped", "reason": "previous run x still running"}
    fenced = {"run_id": "f", "status": "missed", "reason": "late and catchup=none"}
    pending = {"run_id": "p", "status": "pending", "reason": None}
    fire = {"runs": [missed, skipped, fenced, pending], "at": "2030-01-01T00:00:00Z"}
    result = {"ok": True, "accepted": ["m", "s", "p"], "fenced": ["f"]}
    want = [("missed", "catchup_none"), ("skipped", "overlap")]
    assert list(accepted_not_run("fire", fire, result)) == want
    batch = {"commands": [{"op": "cancel_run", "args": {"run_id": "x"}},
                          {"op": "fire", "args": fire}]}
    assert list(accepted_not_run("batch", batch, {"results": [{"ok": True}, result]})) == want
    assert list(accepted_not_run("fire", fire, None)) == []


@pytest.fixture
def copy(tmp_path: Path) -> Iterator[tuple[FakeNode, ReadDb]]:
    """An empty state copy behind a follower node two entries behind its commit index."""
    state = StateMachine(tmp_path / "state.db")
    read = ReadDb(tmp_path / "state.db")
    node = FakeNode(state, "a", peers=[{"id": "a", "reachable": True}])
    node.leader, node.term, node.commit_ahead, node.leader_changes = "b", 2, 2, 1
    yield node, read
    read.close()
    state.close()


def _samples(metrics: PeerMetrics) -> dict[tuple[str, tuple], float]:
    body, _ = metrics.scrape()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(body.decode()) for s in f.samples}


def test_peer_metrics_record_into_their_own_registry(copy: tuple[FakeNode, ReadDb]) -> None:
    node, read = copy
    one, two = (PeerMetrics(self_id="a", node=node, read=read) for _ in range(2))
    slot = datetime(2030, 1, 1, tzinfo=UTC)
    one.run_started(slot=slot, attempt=1, started_at=slot + timedelta(seconds=0.3))
    one.run_started(slot=slot, attempt=2, started_at=slot + timedelta(minutes=5))  # a retry
    one.run_finished(status="succeeded", started_at=slot, finished_at=slot + timedelta(seconds=2))
    one.run_finished(status="cancelled", started_at=None, finished_at=None)
    one.fire_lags([0.02, 0.04])
    one.proposed("fire", {"runs": [{"run_id": "m", "status": "missed", "reason": None}]},
                 {"accepted": ["m"]})
    move = {"run_id": "h", "from_peer": "b", "peer": "a", "at": "2030-01-01T00:00:01Z"}
    one.proposed("move_run", move, {"ok": True})
    one.proposed("batch", {"commands": [{"op": "move_run", "args": move},
                                        {"op": "move_run", "args": move}]},
                 {"results": [{"ok": True}, {"ok": False, "error": "not_movable"}]})
    one.proposed("move_run", move, None)  # unknown outcome: not counted
    got = _samples(one)
    assert got[("raftcron_runs_started_total", ())] == 2
    assert got[("raftcron_fire_skew_seconds_count", ())] == 1  # retries are not skew
    assert got[("raftcron_fire_skew_seconds_sum", ())] == pytest.approx(0.3)
    assert got[("raftcron_runs_finished_total", (("status", "succeeded"),))] == 1
    assert got[("raftcron_runs_finished_total", (("status", "cancelled"),))] == 1
    assert got[("raftcron_run_duration_seconds_count", ())] == 1
    assert got[("raftcron_fire_lag_seconds_count", ())] == 2
    assert got[("raftcron_runs_missed_total", (("reason", "other"),))] == 1
    assert got[("raftcron_runs_moved_total", ())] == 2
    assert got[("raftcron_apply_lag", ())] == 2
    assert got[("raftcron_raft_role", (("role", "follower"),))] == 1
    assert got[("raftcron_raft_leader_changes_total", ())] == 1
    other = _samples(two)
    assert other[("raftcron_runs_started_total", ())] == 0
    assert other[("raftcron_runs_missed_total", (("reason", "other"),))] == 0
