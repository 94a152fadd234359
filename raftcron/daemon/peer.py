"""The composition root: one raftcron peer, from settings to a running process and back.

Start-up is linear, each step commented with why it comes where it does; `stop()` undoes the
steps in reverse. SIGTERM and SIGINT stop the peer cleanly (exit status 0). A thread the peer
needs that dies makes it exit with status 70 (`raftcron.watchdog`).

`RAFTCRON_TEST_FAULTS` (tests only, never set it in production): a comma-separated list of
faults to inject, read once at start and logged as a warning. `raft_thread_exit`: the raft
thread ends once the peer has caught up (what the watchdog must catch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from raftcron.api import ApiContext, serve
from raftcron.clock import Clock, MajorityClock, SystemClock
from raftcron.config.cluster import load_jobs_dir_files, load_nodes_dir
from raftcron.config.daemon import DaemonSettings
from raftcron.daemon.announce import announce_api
from raftcron.daemon.members import default_api, starting_members
from raftcron.daemon.seed_files import seed
from raftcron.daemon.versions import GOSSIP_KEY
from raftcron.db.fsmodes import private_umask, secure_data_dir
from raftcron.db.reader import ReadDb
from raftcron.db.sqlite import STATE_FILE
from raftcron.errors import ConfigError
from raftcron.executor.local import LocalExecutor
from raftcron.executor.output import output_dir
from raftcron.executor.ssh import SshExecutor
from raftcron.metrics.prom import PeerMetrics
from raftcron.model.commands import VERSION as COMMAND_VERSION
from raftcron.notify.sender import Notifier
from raftcron.raft.membership import GOSSIP_KEY as MEMBERSHIP_KEY
from raftcron.raft.membership import MEMBERSHIP_VERSION
from raftcron.raft.node import Node
from raftcron.scheduler.loop import Scheduler, SchedulerSettings
from raftcron.scheduler.node_health import HealthReporter, NodeProber
from raftcron.state.machine import StateMachine
from raftcron.watchdog import LoopHeartbeat, Watchdog
from raftcron.worker.admission import late_after_for
from raftcron.worker.output_retention import OutputJanitor
from raftcron.worker.runner import Worker

log = logging.getLogger(__name__)

SEED_ATTEMPTS = 3
SWITCH_INTERVAL = 0.001
#: Test-only fault injection (see the module docstring).
TEST_FAULTS_ENV = "RAFTCRON_TEST_FAULTS"
KNOWN_TEST_FAULTS = frozenset({"raft_thread_exit"})


class Daemon:
    """One peer. `await run()` starts it, waits for SIGTERM/SIGINT (or `request_stop()`), stops
    it, and returns the exit status (0)."""

    def __init__(self, settings: DaemonSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._stop_requested = asyncio.Event()
        self._teardown: list[tuple[str, Any]] = []
        self._background: asyncio.Task[None] | None = None
        self._leadership: asyncio.Task[None] | None = None
        self.state: StateMachine | None = None
        self.read: ReadDb | None = None
        self.node: Node | None = None
        self.worker: Worker | None = None
        self.scheduler: Scheduler | None = None
        self.ssh: SshExecutor | None = None
        self.prober: NodeProber | None = None
        self.notifier: Notifier | None = None
        self.api: Any = None
        self._seed_jobs: list[Any] = []
        self._job_umask: int | None = None
        self._seed_nodes: list[Any] = []

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def run(self) -> int:
        # The raft thread shares the GIL with the API, the scheduler and the worker. At the
        # default 5 ms switch interval, a busy thread delays each of its socket wake-ups by up
        # to 5 ms; enough of those in one tick and heartbeats go out late and followers start
        # elections. 1 ms cut its commit latency under load by 3x (replication.md).
        sys.setswitchinterval(SWITCH_INTERVAL)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stop_requested.wait()
            log.info("stopping")
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("stopped")
        return 0

    async def start(self) -> None:
        s = self.settings
        # 0. Job and node files first: a bad file is a configuration error (exit 2) before
        #    anything binds a port or touches the data dir.
        self._seed_jobs = load_jobs_dir_files(s.jobs_dir) if s.jobs_dir else []
        self._seed_nodes = list(s.nodes) + (load_nodes_dir(s.nodes_dir) if s.nodes_dir else [])
        for spec in self._seed_nodes:
            if spec.insecure_no_host_key_check:
                log.warning("node %s: SSH host key checks are OFF "
                            "(insecure_no_host_key_check = true)", spec.name)
        # 1. The data dir: everything below keeps its files there, secrets included. A 077
        #    umask for the peer's lifetime covers files created by code we do not own
        #    (pysyncobj's journal); the dir is 0700 and what an older version left is 0600.
        #    Jobs get the umask the peer started with back (LocalExecutor below).
        self._job_umask = private_umask()
        self._teardown.append(("umask", lambda: os.umask(self._job_umask)))
        secure_data_dir(s.data_dir, subdirs=(output_dir(s.data_dir).name,))
        db_path = s.data_dir / STATE_FILE

        # 2. The SQLite copy before the node: pysyncobj replays its journal into it as soon as
        #    the node exists.
        self.state = StateMachine(db_path)
        self._teardown.append(("state", self.state.close))
        # 3. Readers for the API, scheduler and worker (the schema exists now).
        self.read = ReadDb(db_path)
        self._teardown.append(("reader", self.read.close))

        # 4. The raft node: binds the raft port, loads the snapshot, replays the journal, then
        #    joins the group. Applying starts here. It starts from the members the data dir
        #    last saw (membership changes at runtime), else those --join learns, else --peers.
        members = await starting_members(s)
        self.node = Node(self_id=s.self_id, peers=members, data_dir=s.data_dir,
                         secret=s.secret, state=self.state, tuning=s.tuning,
                         announce={"roles": list(s.roles), "capacity": s.capacity,
                                   # Gossiped so peers write new commands only when every
                                   # reachable peer reads them (daemon/versions.py).
                                   GOSSIP_KEY: COMMAND_VERSION,
                                   MEMBERSHIP_KEY: MEMBERSHIP_VERSION},
                         faults=_test_faults())
        self._teardown.append(("node", self.node.close))
        # The watchdog from here on: a raft thread that dies (or a loop that hangs) ends the
        # process with status 70 instead of leaving a peer that answers /healthz for ever.
        # Stopped first on the way down (the teardown runs in reverse).
        heartbeat = LoopHeartbeat(asyncio.get_running_loop())
        heartbeat.start()
        # Checked four times a second so a loop stall of most of a second is caught while it
        # lasts (where the loop is blocked is only visible then). Every wake-up costs: the
        # heartbeat and the checks at 0.25 s take 0.16 % of a core, 0.06 % at 1 s and 0.5 s.
        watchdog = Watchdog(interval=0.25)
        watchdog.watch("raft", self.node.raft_problem)
        watchdog.watch("event loop", heartbeat.problem)
        watchdog.start()
        self._teardown.append(("watchdog", lambda: (watchdog.stop(), heartbeat.stop())))
        log.info("raft node %s up (peers %s; data in %s)", s.self_id, ", ".join(members),
                 s.data_dir)

        # 5. Worker and scheduler are built now (the API hands requests to them) but started
        #    below, after the API.
        outputs = output_dir(s.data_dir)
        # This peer's metrics registry: the worker and the scheduler record events into it,
        # the API's /metrics reads it (with the node's and the copy's state at scrape time).
        metrics = PeerMetrics(self_id=s.self_id, node=self.node, read=self.read)
        heartbeat.on_stall = metrics.loop_stalled
        limit = s.scheduler.output_limit  # a job's own `output_limit` wins over it
        local = LocalExecutor(outputs, clock=self.clock, job_umask=self._job_umask,
                              output_limit=limit)
        ssh = self.ssh = SshExecutor(outputs, clock=self.clock, output_limit=limit)
        # SSH node health: this peer reports what its executor sees (a failed connect, a
        # node answering again) into the replicated state; while it leads it also probes the
        # nodes the state calls unhealthy (scheduler/node_health.py).
        health = HealthReporter(node=self.node, read=self.read, self_id=s.self_id)
        ssh.add_health_listener(health.observe)
        self.prober = NodeProber(read=self.read, probe=ssh.probe, clock=self.clock)
        # Slots are planned and stamped by the majority's time (raft/clocks.py): a clock a
        # little off (within max_clock_skew) then fires nothing early by the others' clocks,
        # and a job put through a peer far off gets the others' creation time.
        node = self.node
        majority_time = MajorityClock(self.clock, node.time_correction)
        self.worker = Worker(node=self.node, read=self.read, clock=self.clock,
                             self_id=s.self_id, data_dir=s.data_dir,
                             executors={"local": local, "ssh": ssh}, capacity=s.capacity,
                             late_after=late_after_for(s.scheduler.lease.total_seconds(),
                                                       s.tuning.connection_timeout),
                             recorder=metrics, majority_clock=majority_time)
        self.scheduler = Scheduler(node=self.node, read=self.read, clock=majority_time,
                                   self_id=s.self_id, peers=list(s.peers),
                                   settings=_scheduler_settings(s), recorder=metrics)
        # Job notifications (webhook, email, dead man's switch): decided and sent by the
        # leader only, started and stopped with leadership like the scheduler (notify/sender.py).
        self.notifier = Notifier(read=self.read, clock=self.clock, self_id=s.self_id,
                                 config=s.notify, propose=self.node.propose)

        # 6. The API before the worker and the scheduler: it answers /status and /healthz while
        #    the group forms, and nothing it does depends on them running.
        ctx = ApiContext(self_id=s.self_id, read=self.read, node=self.node, clock=majority_time,
                         data_dir=s.data_dir, token=s.token,
                         peer_apis={**{m: default_api(m) for m in members}, **s.peer_apis},
                         cancel_local_run=self.worker.cancel, extra_status=self._extra_status,
                         admin_token=s.admin_token, read_token=s.read_token,
                         named_tokens=s.named_tokens, reads_need_token=s.reads_need_token,
                         allow_privileged_jobs=s.allow_privileged_jobs,
                         unprivileged_users=s.unprivileged_users, metrics=metrics,
                         config_blackouts=s.scheduler.blackouts,
                         config_groups=s.scheduler.concurrency_groups)
        try:
            self.api = await serve(ctx, s.api_host, s.api_port)
        except OSError as exc:
            raise ConfigError(f"--api: cannot listen on {s.api_host}:{s.api_port}: "
                              f"{exc.strerror or exc}", field="--api") from None
        self._teardown.append(("api", self.api.close))
        log.info("API on %s", s.api_url)

        # 7. The worker hears every applied command from now on, but takes runs only after its
        #    start() (step 9), once the copy has caught up: a replayed fire never re-runs.
        self._teardown.append(("ssh executor", ssh.close))
        self._teardown.append(("node health reports", health.close))
        self.node.add_apply_listener(self.worker.on_applied)
        self.node.add_apply_listener(self.notifier.on_applied)
        self._teardown.append(("notifier", self.notifier.close))
        # Run output files follow the runs' retention: pruned runs lose their files here too.
        janitor = OutputJanitor(read=self.read, output_dir=outputs)
        self.node.add_apply_listener(janitor.on_applied)
        janitor.start()
        self._teardown.append(("output janitor", janitor.close))
        # A snapshot brings no per-command calls: the worker rescans the copy instead.
        self.node.add_snapshot_listener(self.worker.on_snapshot)
        self._teardown.append(("worker", self.worker.stop))

        # 8. The scheduler runs only while this peer leads and has caught up: the leadership
        #    listener starts and stops it (at once if this peer already leads).
        self.node.add_leadership_listener(self._on_leadership)
        self._teardown.append(("scheduler", self._stop_scheduler))

        # 9. In the background, once there is a leader and this copy has caught up: the
        #    worker takes its runs, then the files are seeded (that needs a working quorum).
        self._background = asyncio.create_task(self._when_ready(), name="raftcron-ready")

    async def _when_ready(self) -> None:
        try:
            await self._take_over()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("start-up after catching up failed")

    async def _take_over(self) -> None:
        assert self.node is not None and self.worker is not None and self.read is not None
        await self.node.wait_ready()
        log.info("caught up: leader %s, applied index %d", self.node.leader,
                 self.node.applied_index)
        await self.worker.start()
        # Both need a working quorum. The announcement may also wait for a rolling upgrade to
        # finish (daemon/versions.py), which must not hold the node files back.
        for name, outcome in zip(("announcing the API address", "seeding from files"),
                                 await asyncio.gather(self._announce(), self._seed_files(),
                                                      return_exceptions=True), strict=True):
            if isinstance(outcome, BaseException):
                log.error("%s failed", name, exc_info=outcome)

    async def _announce(self) -> None:
        # Other peers proxy a run's output here: they need this peer's --api, not a guess.
        assert self.node is not None
        for attempt in range(1, SEED_ATTEMPTS + 1):
            if await announce_api(node=self.node, read=self.read, clock=self.clock,
                                  self_id=self.settings.self_id, api=self.settings.api_url):
                return
            if attempt < SEED_ATTEMPTS:
                await asyncio.sleep(attempt)
                await self.node.wait_ready()

    async def _seed_files(self) -> None:
        assert self.node is not None
        jobs, nodes = self._seed_jobs, self._seed_nodes
        # With --jobs-dir set, even an empty one: jobs whose files are gone are released.
        if not (jobs or nodes or self.settings.jobs_dir):
            return
        # An election in the middle of seeding fails some proposals: go again (what already
        # landed is unchanged now and skipped).
        for attempt in range(1, SEED_ATTEMPTS + 1):
            report = await seed(node=self.node, read=self.read, clock=self.clock,
                                jobs=jobs, nodes=nodes)
            log.info("seeded from files: %d jobs written, %d unchanged, %d released; "
                     "%d nodes written, %d unchanged; %d failed", report.jobs_written,
                     report.jobs_unchanged, report.jobs_released, report.nodes_written,
                     report.nodes_unchanged, report.failed)
            if not report.failed or attempt == SEED_ATTEMPTS:
                return
            await asyncio.sleep(attempt)
            await self.node.wait_ready()

    def _on_leadership(self, is_leader: bool) -> None:
        # Start/stop calls are chained so a stop never overtakes the start it follows.
        previous = self._leadership
        scheduler, prober, notifier = self.scheduler, self.prober, self.notifier
        assert scheduler is not None and prober is not None and notifier is not None

        async def switch() -> None:
            if previous is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await previous
            try:
                await (scheduler.start() if is_leader else scheduler.stop())
            except Exception:
                log.exception("scheduler %s failed", "start" if is_leader else "stop")
            try:
                await (prober.start() if is_leader else prober.stop())
            except Exception:
                log.exception("node prober %s failed", "start" if is_leader else "stop")
            try:
                await (notifier.start() if is_leader else notifier.stop())
            except Exception:
                log.exception("notifier %s failed", "start" if is_leader else "stop")

        self._leadership = asyncio.create_task(switch(), name="raftcron-leadership")

    async def _stop_scheduler(self) -> None:
        if self._leadership is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._leadership
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.prober is not None:
            await self.prober.stop()
        if self.notifier is not None:
            await self.notifier.stop()

    def _extra_status(self) -> dict:
        out: dict[str, Any] = {"api": self.settings.api_url}
        if self.worker is not None:
            out["worker"] = self.worker.status()
        if self.ssh is not None:
            # Connections, insecure nodes and per-node health as this peer's executor sees it.
            out["ssh"] = self.ssh.status()
        if self.scheduler is not None and self.node is not None and self.node.is_leader:
            out["scheduler"] = self.scheduler.status()
            if self.prober is not None:
                out["node_prober"] = self.prober.status()
            if self.notifier is not None:
                out["notifier"] = self.notifier.status()
        return out

    async def stop(self) -> None:
        """Undo `start()` in reverse order; every step runs even if an earlier one fails."""
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._background
        while self._teardown:
            name, close = self._teardown.pop()
            try:
                result = close()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("stopping the %s failed", name)


def _test_faults() -> frozenset[str]:
    """The faults named in `RAFTCRON_TEST_FAULTS` (tests only); unknown names are ignored."""
    names = {n.strip() for n in os.environ.get(TEST_FAULTS_ENV, "").split(",") if n.strip()}
    faults = frozenset(names & KNOWN_TEST_FAULTS)
    if names:
        log.warning("%s=%s: test faults enabled (%s); never set this in production",
                    TEST_FAULTS_ENV, ",".join(sorted(names)),
                    ",".join(sorted(faults)) or "none known")
    return faults


def _scheduler_settings(s: DaemonSettings) -> SchedulerSettings:
    return SchedulerSettings.of(s.scheduler, roles=tuple(s.roles), capacity=s.capacity)
