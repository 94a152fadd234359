"""Replicated health of SSH nodes: peers report what they saw, the leader probes the sick.

Why replicated: placement runs on the leader, while the peer that found a node unreachable may
be any peer. So health goes through the log (`node_health {name, healthy, reason, at}`), every
peer's copy agrees, `GET /nodes` shows it everywhere, and the planner skips a node the state
calls unhealthy.

- `HealthReporter` (every peer) listens to the SSH executor (`add_health_listener`). When an
  attempt to reach a node fails and the state does not already call the node unhealthy, it
  proposes `healthy = false` with the executor's reason (which names the node and the
  account) and the peer that saw it; when an attempt succeeds and the state calls the node
  unhealthy, it proposes `healthy = true`. Observations of one node are handled one at a
  time, the newest winning; a proposal that finds no leader is tried again a few times.
- `NodeProber` (the leader only, started and stopped with leadership like the scheduler)
  probes every SSH node the state calls unhealthy: the first time `interval` after it sees it
  so, then with doubling pauses up to `max_interval`; at once when its definition changes
  (`PUT /nodes/{name}`, an edited node file). A probe goes through the executor, so
  its outcome reaches the reporter like any other attempt: a node that answers again is
  proposed healthy by the same path.

Nothing here is in the state machine: reading the clock is fine; the times travel in the
commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raftcron.clock import Clock
from raftcron.durations import format_time
from raftcron.errors import RaftcronError, ValidationError
from raftcron.model import Node, node_from_dict
from raftcron.model.node import FIELDS as NODE_FIELDS

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import Proposer

log = logging.getLogger(__name__)

#: Seconds from seeing a node unhealthy to its first probe, and the first pause after a failure.
PROBE_INTERVAL = 5.0
#: The longest pause between two probes of a node that stays down.
PROBE_MAX_INTERVAL = 30.0
#: Seconds between the prober's looks at the node table.
PROBE_TICK = 1.0

Probe = Callable[[Node], Awaitable[tuple[bool, str | None]]]


def node_of(data: Mapping[str, Any]) -> Node:
    """A node as the state returns it (with health and times) -> `model.Node`."""
    return node_from_dict({k: v for k, v in data.items() if k in NODE_FIELDS})


def unhealthy_ssh_nodes(nodes: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The SSH nodes the state calls unhealthy, by name (never tried = healthy)."""
    return {
        str(n["name"]): n for n in nodes
        if n.get("name") and n.get("connection_type") == "ssh" and n.get("healthy") is False
    }


def probe_delay(failures: int, interval: float = PROBE_INTERVAL,
                max_interval: float = PROBE_MAX_INTERVAL) -> float:
    """Seconds until the next probe of a node after `failures` failed probes in a row."""
    return min(interval * 2 ** max(0, failures), max_interval)


class HealthReporter:
    """Proposes `node_health` when this peer's SSH executor disagrees with the state.

    `observe` is the executor's health listener; `close()` cancels what is in flight.
    """

    def __init__(self, *, node: Proposer, read: ReadDb, self_id: str, attempts: int = 3,
                 retry_pause: float = 1.0, timeout: float = 5.0) -> None:
        self.node = node
        self.read = read
        self.self_id = self_id
        self.attempts = attempts
        self.retry_pause = retry_pause
        self.timeout = timeout
        #: node name -> the newest observation not yet handled.
        self._latest: dict[str, tuple[bool, str | None, datetime]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self.proposed = 0

    def observe(self, name: str, healthy: bool, reason: str | None, at: datetime) -> None:
        """An attempt to reach `name` worked (`healthy`) or failed (with `reason`) at `at`.

        Called on the event loop; never blocks: the state is read and the proposal made in a
        task per node.
        """
        if self._closed:
            return
        self._latest[name] = (healthy, reason, at)
        if name not in self._tasks:
            self._tasks[name] = asyncio.get_running_loop().create_task(
                self._publish(name), name=f"raftcron-node-health-{name}")

    async def _publish(self, name: str) -> None:
        try:
            while True:
                item = self._latest.pop(name, None)
                if item is None:
                    return  # no await since the pop: a new observation starts a new task
                try:
                    await self._settle(name, *item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("reporting the health of node %r failed", name)
        finally:
            self._tasks.pop(name, None)

    async def _settle(self, name: str, healthy: bool, reason: str | None, at: datetime) -> None:
        for attempt in range(1, self.attempts + 1):
            current = await self.read.call(self.read.get_node, name)
            if current is None or current.get("connection_type") != "ssh":
                return  # deleted meanwhile, or not an SSH node of the table
            if healthy == (current.get("healthy") is not False):
                return  # the state already says so
            if name in self._latest:
                return  # a newer observation supersedes this one
            seen = f"{reason or 'unreachable'} (seen from peer {self.self_id})"
            args = {"name": name, "healthy": healthy, "reason": None if healthy else seen,
                    "at": format_time(at)}
            key = f"node-health:{name}:{int(healthy)}:{format_time(at)}:{self.self_id}"
            try:
                result = await self.node.propose("node_health", args, key=key,
                                                 timeout=self.timeout)
            except RaftcronError as exc:
                log.warning("node %r: cannot record it %s (attempt %d of %d): %s", name,
                            "healthy" if healthy else "unhealthy", attempt, self.attempts,
                            exc.message)
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_pause)
                continue
            self.proposed += 1
            if result.get("ok", False):
                if healthy:
                    log.info("node %r recorded healthy again", name)
                else:
                    log.warning("node %r recorded unhealthy: %s", name, seen)
            return

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@dataclass
class _Plan:
    next_at: float
    failures: int = 0
    #: The node definition's `updated_at` when planned: an edited node is probed at once.
    version: Any = None


class NodeProber:
    """While this peer leads: probe the SSH nodes the state calls unhealthy (see module doc).

    `probe` is `SshExecutor.probe`. `start()`/`stop()` follow leadership; `pass_once()` is one
    look at the node table (what the loop does every `tick` seconds) and returns the names it
    probed.
    """

    def __init__(self, *, read: ReadDb, probe: Probe, clock: Clock,
                 interval: float = PROBE_INTERVAL, max_interval: float = PROBE_MAX_INTERVAL,
                 tick: float = PROBE_TICK) -> None:
        self.read = read
        self.probe = probe
        self.clock = clock
        self.interval = interval
        self.max_interval = max_interval
        self.tick = tick
        self._plans: dict[str, _Plan] = {}
        self._task: asyncio.Task[None] | None = None
        self.probes = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._plans.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="raftcron-node-prober")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._plans.clear()

    def status(self) -> dict[str, Any]:
        now = self.clock.monotonic()
        return {
            "running": self.running,
            "probes": self.probes,
            "unhealthy": {name: {"failed_probes": p.failures,
                                 "next_probe_in": round(max(0.0, p.next_at - now), 1)}
                          for name, p in sorted(self._plans.items())},
        }

    async def _loop(self) -> None:
        while True:
            try:
                await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node prober pass failed")
            await asyncio.sleep(self.tick)  # pacing between looks at the table

    async def pass_once(self) -> list[str]:
        nodes, _ = await self.read.call(self.read.list_nodes, limit=1000)
        down = unhealthy_ssh_nodes(nodes)
        now = self.clock.monotonic()
        for name in [n for n in self._plans if n not in down]:
            del self._plans[name]  # healthy again (or deleted): forget its backoff
        due = []
        for name, data in down.items():
            plan = self._plans.get(name)
            version = data.get("updated_at")
            if plan is None:
                # Just seen down: it failed a moment ago, so give it `interval` first.
                self._plans[name] = _Plan(next_at=now + self.interval, version=version)
            elif plan.version != version:
                # Its definition was edited (a fixed port or key?): try the new one now.
                self._plans[name] = _Plan(next_at=now, version=version)
                due.append((name, data))
            elif plan.next_at <= now:
                due.append((name, data))
        await asyncio.gather(*(self._probe_one(name, data) for name, data in due))
        return [name for name, _ in due]

    async def _probe_one(self, name: str, data: Mapping[str, Any]) -> None:
        plan = self._plans[name]
        try:
            node = node_of(data)
        except ValidationError as exc:  # a definition this build cannot read: no use probing
            log.error("node %r cannot be probed: %s", name, exc.message)
            plan.next_at = self.clock.monotonic() + self.max_interval
            return
        self.probes += 1
        try:
            healthy, reason = await self.probe(node)
        except Exception:
            log.exception("probing node %r failed", name)
            healthy, reason = False, None
        if healthy:
            # The executor told the reporter, which proposes healthy = true; the node leaves
            # `down` once that is applied. Until then, probe again at the normal pace.
            plan.failures = 0
            plan.next_at = self.clock.monotonic() + self.interval
            log.info("node %r answers a probe again", name)
            return
        plan.failures += 1
        plan.next_at = self.clock.monotonic() + probe_delay(plan.failures, self.interval,
                                                            self.max_interval)
        log.info("node %r still unreachable (%d probes): %s", name, plan.failures, reason)
