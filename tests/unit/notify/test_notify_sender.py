"""The notification sender (raftcron/notifier.py) against a real state copy, a local aiohttp
webhook server and a local aiosmtpd SMTP server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP

from raftcron.clock import FakeClock
from raftcron.config.cluster import NotifyConfig
from raftcron.db.reader import ReadDb
from raftcron.notify.sender import Notifier
from raftcron.planning.trigger_proposals import pause_proposal
from raftcron.state.machine import StateMachine
from tests.support.fake_node import FakeNode
from tests.support.records import run_record

T = [f"2024-05-01T1{h}:00:00Z" for h in range(10)]
START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


class Hook:
    """A webhook server that records JSON bodies; answers `fail_first` requests with 500."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.fail_first = 0
        self.requests = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.requests <= self.fail_first:
            return web.Response(status=500)
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        return web.Response(status=204)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


class Env:
    def __init__(self, tmp_path: Path, hook: Hook, smtp_port: int, box: Mailbox) -> None:
        self.sm = StateMachine(tmp_path / "state.db")
        self.read = ReadDb(tmp_path / "state.db")
        self.hook, self.box, self.smtp_port = hook, box, smtp_port
        self.node = FakeNode(self.sm, "p1")
        self.clock = FakeClock(START)
        self.notifier: Notifier | None = None

    def make(self, **config: Any) -> Notifier:
        cfg = NotifyConfig(smtp_host="127.0.0.1", smtp_port=self.smtp_port, **config)
        self.notifier = Notifier(read=self.read, clock=self.clock, self_id="p1", config=cfg,
                                 propose=self.node.propose, tick=3600, attempts=3, timeout=5,
                                 backoff=0.01)
        self.node.apply_listeners[:] = [self.notifier.on_applied]
        return self.notifier

    def __call__(self, op: str, args: dict[str, Any]) -> dict:
        """Apply a command as the log would; the notifier, once made, hears of it."""
        return self.node.apply(op, args)

    def job(self, name: str = "j", retries: int = 0, **notify: Any) -> None:
        spec = {"name": name, "schedule": "0 * * * *", "retries": retries,
                "notify": {"webhook": self.hook.url, **notify}}
        assert self("put_job", {"job": spec, "at": T[0]})["ok"]

    def run(self, run_id: str, status: str, slot: int, *, job: str = "j", attempt: int = 1,
            retry_of: str | None = None) -> None:
        rec = run_record(run_id, job, T[slot], target="n1", attempt=attempt, retry_of=retry_of)
        assert run_id in self("fire", {"runs": [rec], "at": T[slot]})["accepted"]
        assert self("run_finished", {"run_id": run_id, "status": status,
                                     "exit_code": 0 if status == "succeeded" else 3,
                                     "stderr_tail": "boom\n", "at": T[slot]})["ok"]


@pytest.fixture
async def env(tmp_path: Path):
    hook, box = Hook(), Mailbox()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    hook.url = f"http://127.0.0.1:{port}/hook"
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(box), "127.0.0.1", 0)
    e = Env(tmp_path, hook, smtp.sockets[0].getsockname()[1], box)
    yield e
    if e.notifier is not None:
        await e.notifier.close()
    smtp.close()
    await runner.cleanup()
    e.read.close()
    e.sm.close()


async def started(env: Env, **config: Any) -> Notifier:
    n = env.make(**config)
    await n.start()
    return n


async def test_notifier_failure_then_recovery_reach_the_webhook(env: Env) -> None:
    n = await started(env)
    env.job(on=["failure", "recovery"])
    env.run("r1", "failed", 1)
    await n.drain()
    env.run("r2", "succeeded", 2)
    env.run("r3", "succeeded", 3)  # a success after a success: nothing
    await n.drain()
    assert [b["event"] for b in env.hook.bodies] == ["failure", "recovery"]
    first = env.hook.bodies[0]
    assert (first["job"], first["peer"], first["run"]["id"]) == ("j", "p1", "r1")
    assert first["run"]["status"] == "failed" and first["run"]["exit_code"] == 3
    assert first["run"]["stderr_tail"] == "boom\n" and first["at"]


async def test_notifier_failure_waits_for_the_last_retry(env: Env) -> None:
    n = await started(env)
    env.job(retries=1, on=["failure", "recovery"])
    env.run("r1", "failed", 1)                              # attempt 1 of 2: a retry follows
    await n.drain()
    assert env.hook.bodies == []
    env.run("r1b", "succeeded", 1, attempt=2, retry_of="r1")  # not a recovery: same slot
    env.run("r2", "failed", 2)
    env.run("r2b", "failed", 2, attempt=2, retry_of="r2")   # the last attempt
    await n.drain()
    assert [(b["event"], b["run"]["id"]) for b in env.hook.bodies] == [("failure", "r2b")]


async def test_notifier_lost_and_missed_runs(env: Env) -> None:
    n = await started(env)
    env.job(on=["failure", "missed"])
    rec = {"run_id": "r1", "job": "j", "slot": T[1], "peer": "p1", "fired_at": T[1]}
    env("fire", {"runs": [rec], "at": T[1]})
    env("run_lost", {"run_id": "r1", "reason": "peer gone", "at": T[2]})
    skip = {"run_id": "s1", "job": "j", "slot": T[3], "status": "skipped",
            "reason": "previous run still active", "fired_at": T[3]}
    env("fire", {"runs": [skip], "at": T[3]})
    await n.drain()
    assert sorted((b["event"], b["run"]["status"]) for b in env.hook.bodies) == [
        ("failure", "lost"), ("missed", "skipped")]


async def test_notifier_retries_a_webhook_answering_500(env: Env) -> None:
    n = await started(env)
    env.hook.fail_first = 2
    env.job(on=["failure"])
    env.run("r1", "failed", 1)
    await n.drain()
    assert env.hook.requests == 3 and [b["event"] for b in env.hook.bodies] == ["failure"]
    assert (n.sent, n.failed) == (1, 0)


async def test_notifier_gives_up_and_never_logs_url_secrets(env: Env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    n = await started(env)
    env.hook.fail_first = 100
    host = env.hook.url.removeprefix("http://")
    env.job(on=["failure"], webhook=f"http://user:s3cret@{host}?token=t0ps3cret")
    env.run("r1", "failed", 1)
    await n.drain()
    assert env.hook.requests == 3 and (n.sent, n.failed) == (0, 1)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("raftcron"))
    assert "s3cret" not in ours and "t0ps3cret" not in ours  # (the test server logs its own)
    assert "giving up" in ours
    env.hook.fail_first = 0
    env.run("r2", "failed", 2)
    await n.drain()
    auth = env.hook.headers[-1]["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"user:s3cret"


async def test_notifier_email_through_smtp(env: Env) -> None:
    n = await started(env, email=["ops@example.org"], smtp_from="cron@example.org")
    env.job(on=["failure"], email=["dev@example.org"])
    env.run("r1", "failed", 1)
    await n.drain()
    assert len(env.box.messages) == 1
    rcpts, msg = env.box.messages[0]
    assert sorted(rcpts) == ["dev@example.org", "ops@example.org"]
    assert msg["Subject"] == "[raftcron] j failure" and msg["From"] == "cron@example.org"
    body = msg.get_payload(decode=True).decode()
    assert "Status: failed" in body and "Exit code: 3" in body and "boom" in body
    assert len(env.hook.bodies) == 1  # and the webhook too


async def test_notifier_absent_once_per_absence(env: Env) -> None:
    n = await started(env)
    env.job(on=["absent"], absent_after="30m")  # created at T[0] = 10:00
    assert await n.check_absent(START + timedelta(minutes=20)) == []
    assert await n.check_absent(START + timedelta(minutes=31)) == ["j"]
    assert await n.check_absent(START + timedelta(minutes=50)) == []  # told already
    await n.drain()
    assert [(b["event"], b["run"]) for b in env.hook.bodies] == [("absent", None)]
    env.run("r1", "succeeded", 1)                                # 11:00: a success
    assert await n.check_absent(START + timedelta(minutes=80)) == []
    assert await n.check_absent(START + timedelta(minutes=95)) == ["j"]
    await n.drain()
    assert [b["event"] for b in env.hook.bodies] == ["absent", "absent"]
    assert env.hook.bodies[1]["run"]["id"] == "r1"  # the last success


async def test_notifier_absent_default_is_twice_the_period(env: Env) -> None:
    n = await started(env)
    env.job(on=["absent"])  # hourly: absent after 2h without a success
    assert await n.check_absent(START + timedelta(minutes=110)) == []
    assert await n.check_absent(START + timedelta(minutes=121)) == ["j"]


async def test_notifier_silent_unless_leading(env: Env) -> None:
    n = env.make()
    env.job(on=["failure"])
    env.run("r1", "failed", 1)
    await n.drain()
    await n.start()
    await n.stop()
    env.run("r2", "failed", 2)
    await n.drain()
    assert env.hook.requests == 0 and not n.running


async def test_notifier_unreachable_webhook_is_logged_not_raised(env: Env, caplog) -> None:
    n = await started(env)
    env.job(on=["failure"], webhook="http://127.0.0.1:1/hook")
    env.run("r1", "failed", 1)
    await n.drain()
    assert n.failed == 1 and "notifying webhook http://127.0.0.1:1/hook" in caplog.text


async def test_notifier_gives_up_on_a_relay_that_trickles_and_keeps_the_loop_free(
        env: Env) -> None:
    """A relay that sends one byte at a time, never a whole greeting line, keeps every socket
    read under the timeout: only the notifier's own deadline ends the attempt. Meanwhile the
    loop keeps running other work."""
    stop = asyncio.Event()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not stop.is_set():
            writer.write(b"2")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
        writer.close()

    tarpit = await asyncio.start_server(trickle, "127.0.0.1", 0)
    cfg = NotifyConfig(smtp_host="127.0.0.1", smtp_port=tarpit.sockets[0].getsockname()[1])
    n = env.notifier = Notifier(read=env.read, clock=env.clock, self_id="p1", config=cfg,
                                propose=env.node.propose, tick=3600, attempts=2, timeout=0.1,
                                backoff=0.01)
    env.node.apply_listeners[:] = [n.on_applied]
    await n.start()
    env.job(on=["failure"], email=["dev@example.org"])
    env.run("r1", "failed", 1)
    ticks = 0

    async def count_ticks() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    counter = asyncio.get_running_loop().create_task(count_ticks())
    try:
        await asyncio.wait_for(n.drain(), 30)  # without the deadline: stuck for minutes
    finally:
        counter.cancel()
        stop.set()
        tarpit.close()
    assert (n.failed, n.sent) == (1, 1)  # the email failed; the webhook got through
    assert len(env.hook.bodies) == 1 and env.box.messages == []
    assert ticks > 1  # the loop ran other work while the sends were stuck


async def test_notifier_tells_paused_and_slow_whatever_on_lists(env: Env) -> None:
    n = await started(env)
    env.job(on=["failure"])
    env.run("r1", "failed", 1)
    pause = pause_proposal("j", "paused after 1 consecutive failures; last run r1", "r1",
                           now=START)
    assert env(pause.op, pause.args)["ok"]
    env("run_slow", {"run_id": "r1", "at": T[2]})
    env("run_slow", {"run_id": "r1", "at": T[3]})  # flagged already: told once
    await n.drain()
    assert sorted((b["event"], b["run"]["id"]) for b in env.hook.bodies) == [
        ("failure", "r1"), ("paused", "r1"), ("slow", "r1")]
