"""Replicated SSH node health (raftcron/nodehealth.py) and the executor's health listener.

A real state copy stands behind the fake node (tests/support/fake_node.py: proposals are
applied at once), and a fake stands in for the SSH library (an `SshExecutorBase` whose
connect succeeds or is refused), so these tests are fast and need no sshd;
tests/ssh/test_cluster_ssh.py does it for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from raftcron.clock import FakeClock
from raftcron.db.reader import ReadDb
from raftcron.executor.ssh_executor import SshExecutorBase, Unreachable
from raftcron.model import ConnectionType, Node, node_to_dict
from raftcron.scheduler.node_health import (
    PROBE_INTERVAL,
    HealthReporter,
    NodeProber,
    node_of,
    probe_delay,
    unhealthy_ssh_nodes,
)
from raftcron.state.machine import StateMachine
from tests.support.fake_node import FakeNode

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SELF = "127.0.0.1:7101"


def ssh_node(name: str = "web1", **overrides: Any) -> Node:
    values: dict[str, Any] = {
        "name": name, "connection_type": ConnectionType.SSH, "ssh_user": "deploy",
        "ssh_host": "10.0.0.5", "ssh_port": 22, "ssh_private_key_file": "/k",
        "roles": ["web"], "connect_timeout": timedelta(seconds=2),
    }
    values.update(overrides)
    return Node(**values)


def state_row(node: Node, healthy: bool | None = None) -> dict[str, Any]:
    """A node as `ReadDb.get_node` returns it: the canonical dict plus health and times."""
    return {**node_to_dict(node), "healthy": healthy, "health_reason": None, "health_at": None,
            "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z"}


class Copy:
    """A real state copy (SQLite) behind the fake node: the reporter proposes through `node`,
    the reporter and the prober read `read`; `nodes` are put first, with the given health."""

    def __init__(self, root: Path, *nodes: tuple[Node, bool | None]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.state = StateMachine(root / "state.db")
        self.read = ReadDb(root / "state.db")
        self.node = FakeNode(self.state, SELF)
        for node, healthy in nodes:
            self.put(node)
            if healthy is not None:
                self.set_health(node.name, healthy)

    @property
    def proposals(self) -> list[tuple[str, dict, str | None]]:
        return self.node.proposals

    def put(self, node: Node, at: str = "2024-05-01T12:00:00Z") -> None:
        assert self.node.apply("put_node", {"node": node_to_dict(node), "at": at})["ok"]

    def set_health(self, name: str, healthy: bool) -> None:
        """What a committed `node_health` does (a proposal from elsewhere)."""
        args = {"name": name, "healthy": healthy, "reason": None, "at": "2024-05-01T12:00:00Z"}
        assert self.node.apply("node_health", args)["ok"]

    def healthy(self, name: str) -> bool | None:
        row = self.read.get_node(name)
        assert row is not None, name
        return row["healthy"]

    def close(self) -> None:
        self.read.close()
        self.state.close()


MakeCopy = Callable[..., Copy]


@pytest.fixture
def make_copy(tmp_path: Path) -> Iterator[Callable[..., Copy]]:
    copies: list[Copy] = []

    def make(*nodes: tuple[Node, bool | None]) -> Copy:
        copies.append(Copy(tmp_path / f"copy{len(copies)}", *nodes))
        return copies[-1]
    yield make
    for copy in copies:
        copy.close()


def reporter_for(fake: Copy) -> HealthReporter:
    return HealthReporter(node=fake.node, read=fake.read, self_id=SELF, retry_pause=0.0)


async def settled(reporter: HealthReporter) -> None:
    """Wait until the reporter has nothing in flight (bounded)."""
    async with asyncio.timeout(5):
        while reporter._tasks:
            await asyncio.gather(*list(reporter._tasks.values()))


# --- pure helpers -------------------------------------------------------------------------------


def test_probe_delay_doubles_up_to_the_cap() -> None:
    assert [probe_delay(n, 5.0, 30.0) for n in range(5)] == [5.0, 10.0, 20.0, 30.0, 30.0]


def test_unhealthy_ssh_nodes_only_ssh_nodes_marked_false() -> None:
    local = Node(name="here", connection_type=ConnectionType.LOCAL)
    rows = [state_row(ssh_node("a"), None), state_row(ssh_node("b"), True),
            state_row(ssh_node("c"), False), state_row(local, False)]
    assert list(unhealthy_ssh_nodes(rows)) == ["c"]


def test_node_of_ignores_health_and_times() -> None:
    node = ssh_node("a")
    assert node_of(state_row(node, False)) == node


# --- HealthReporter ------------------------------------------------------------------------------


async def test_reporter_proposes_unhealthy_with_reason_and_peer(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), None))
    reporter = reporter_for(fake)
    reporter.observe("web1", False, "ssh node 'web1' (deploy@10.0.0.5:22): connection refused",
                     T0)
    await settled(reporter)
    [(op, args, key)] = fake.proposals
    assert op == "node_health"
    assert args == {"name": "web1", "healthy": False, "at": "2024-05-01T12:00:00Z",
                    "reason": "ssh node 'web1' (deploy@10.0.0.5:22): connection refused "
                              f"(seen from peer {SELF})"}
    assert key is not None and "web1" in key
    assert fake.healthy("web1") is False


async def test_reporter_silent_when_the_state_already_agrees(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("down"), False), (ssh_node("up"), None))
    reporter = reporter_for(fake)
    reporter.observe("down", False, "refused", T0)
    reporter.observe("up", True, None, T0)
    await settled(reporter)
    assert fake.proposals == []


async def test_reporter_proposes_healthy_when_the_state_says_unhealthy(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), False))
    reporter = reporter_for(fake)
    reporter.observe("web1", True, None, T0)
    await settled(reporter)
    [(_, args, _)] = fake.proposals
    assert (args["healthy"], args["reason"]) == (True, None)
    assert fake.healthy("web1") is True


async def test_reporter_burst_of_failures_gives_one_proposal(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), None))
    reporter = reporter_for(fake)
    for i in range(20):
        reporter.observe("web1", False, f"refused {i}", T0 + timedelta(seconds=i))
    await settled(reporter)
    assert len(fake.proposals) == 1
    assert fake.proposals[0][1]["reason"].startswith("refused 19")


async def test_reporter_retries_when_there_is_no_leader(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), None))
    fake.node.fail_next = 2
    reporter = reporter_for(fake)
    reporter.observe("web1", False, "refused", T0)
    await settled(reporter)
    assert len(fake.proposals) == 1 and fake.healthy("web1") is False


async def test_reporter_gives_up_after_its_attempts(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), None))
    fake.node.fail_next = 10
    reporter = reporter_for(fake)
    reporter.observe("web1", False, "refused", T0)
    await settled(reporter)
    assert fake.proposals == [] and fake.node.fail_next == 10 - reporter.attempts


async def test_reporter_ignores_unknown_and_non_ssh_nodes(make_copy: MakeCopy) -> None:
    fake = make_copy((Node(name="here", connection_type=ConnectionType.LOCAL), None))
    reporter = reporter_for(fake)
    reporter.observe("gone", False, "refused", T0)
    reporter.observe("here", False, "refused", T0)
    await settled(reporter)
    assert fake.proposals == []


async def test_reporter_close_stops_taking_observations(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), None))
    reporter = reporter_for(fake)
    await reporter.close()
    reporter.observe("web1", False, "refused", T0)
    await settled(reporter)
    assert fake.proposals == []


# --- NodeProber ----------------------------------------------------------------------------------


class Probes:
    def __init__(self) -> None:
        self.answers: dict[str, bool] = {}
        self.calls: list[str] = []

    async def __call__(self, node: Node) -> tuple[bool, str | None]:
        self.calls.append(node.name)
        ok = self.answers.get(node.name, False)
        return ok, None if ok else f"ssh node {node.name!r}: connection refused"


async def test_prober_waits_then_backs_off_while_a_node_stays_down(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("bad"), False), (ssh_node("ok"), None))
    clock = FakeClock(T0)
    probes = Probes()
    prober = NodeProber(read=fake.read, probe=probes, clock=clock)
    probed_at: list[float] = []
    for _ in range(80):  # 80 s in 1 s steps
        if await prober.pass_once():
            probed_at.append(clock.monotonic())
        clock.advance(1)
    # First probe one interval after it was seen down, then 10, 20, 30, 30 s apart.
    assert probed_at[:4] == [5.0, 15.0, 35.0, 65.0]
    assert set(probes.calls) == {"bad"}
    assert prober.status()["unhealthy"]["bad"]["failed_probes"] == len(probed_at)


async def test_prober_forgets_a_node_once_the_state_says_healthy(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("bad"), False))
    clock = FakeClock(T0)
    probes = Probes()
    prober = NodeProber(read=fake.read, probe=probes, clock=clock)
    await prober.pass_once()
    clock.advance(PROBE_INTERVAL)
    probes.answers["bad"] = True
    assert await prober.pass_once() == ["bad"]
    fake.set_health("bad", True)  # what the reporter's proposal does
    assert await prober.pass_once() == []
    assert prober.status()["unhealthy"] == {}


async def test_prober_probes_an_edited_node_at_once(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("bad"), False))
    clock = FakeClock(T0)
    prober = NodeProber(read=fake.read, probe=Probes(), clock=clock)
    await prober.pass_once()
    clock.advance(PROBE_INTERVAL)
    assert await prober.pass_once() == ["bad"]  # fails: next probe 10 s later
    clock.advance(1)
    assert await prober.pass_once() == []
    fake.put(ssh_node("bad", ssh_port=2222), at="2024-05-01T12:00:06Z")
    assert await prober.pass_once() == ["bad"]
    assert prober.status()["unhealthy"]["bad"]["failed_probes"] == 1


async def test_prober_start_and_stop_follow_leadership(make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("bad"), False))
    prober = NodeProber(read=fake.read, probe=Probes(), clock=FakeClock(T0), tick=0.01)
    await prober.start()
    assert prober.running and prober.status()["running"] is True
    async with asyncio.timeout(5):
        while "bad" not in prober.status()["unhealthy"]:
            await asyncio.sleep(0.01)
    await prober.stop()
    assert not prober.running and prober.status()["unhealthy"] == {}


# --- the SSH executor's health listener ----------------------------------------------------------


class FakeSshConn:
    closed = False

    async def run(self, command: str, check: bool = False) -> None:
        return None


class FakeSshExecutor(SshExecutorBase):
    def __init__(self, output_dir: Path, *, refuse: bool) -> None:
        super().__init__(output_dir, clock=FakeClock(T0))
        self.refuse = refuse

    async def _connect(self, node: Any, key: Any) -> FakeSshConn:
        if self.refuse:
            raise Unreachable(f"ssh node {node.name!r} ({key.describe()}): connection refused")
        return FakeSshConn()

    def _is_closed(self, conn: Any) -> bool:
        return conn.closed

    async def _close(self, conn: Any) -> None:
        conn.closed = True


async def test_executor_tells_listeners_of_every_attempt(tmp_path: Path) -> None:
    executor = FakeSshExecutor(tmp_path, refuse=True)
    heard: list[tuple[str, bool, str | None, datetime]] = []
    executor.add_health_listener(lambda *a: heard.append(a))
    assert (await executor.probe(ssh_node("web1")))[0] is False
    assert (await executor.probe(ssh_node("web1")))[0] is False
    executor.refuse = False
    assert await executor.probe(ssh_node("web1")) == (True, None)
    assert [(n, ok) for n, ok, _, _ in heard] == [("web1", False), ("web1", False),
                                                 ("web1", True)]
    assert "connection refused" in (heard[0][2] or "") and heard[0][3] == T0
    assert heard[2][2] is None


async def test_executor_listener_error_does_not_break_the_probe(tmp_path: Path) -> None:
    executor = FakeSshExecutor(tmp_path, refuse=False)

    def broken(*_: Any) -> None:
        raise RuntimeError("listener bug")
    executor.add_health_listener(broken)
    assert await executor.probe(ssh_node("web1")) == (True, None)


async def test_executor_failure_reaches_the_state_through_the_reporter(
        tmp_path: Path, make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), None))
    reporter = reporter_for(fake)
    executor = FakeSshExecutor(tmp_path, refuse=True)
    executor.add_health_listener(reporter.observe)
    await executor.probe(ssh_node("web1"))
    await settled(reporter)
    assert fake.healthy("web1") is False
    executor.refuse = False
    await executor.probe(ssh_node("web1"))
    await settled(reporter)
    assert fake.healthy("web1") is True
    assert [a["healthy"] for _, a, _ in fake.proposals] == [False, True]


@pytest.mark.parametrize("healthy", [True, False])
async def test_reporter_keys_are_stable_per_observation(healthy: bool, make_copy: MakeCopy) -> None:
    fake = make_copy((ssh_node("web1"), not healthy))
    reporter = reporter_for(fake)
    reporter.observe("web1", healthy, None if healthy else "refused", T0)
    await settled(reporter)
    [(_, _, key)] = fake.proposals
    assert key == f"node-health:web1:{int(healthy)}:2024-05-01T12:00:00Z:{SELF}"
