"""The replicated notification outbox: intents recorded once, results first-wins, and a new
leader (a second `Notifier` over the same copy) delivering what the first left pending,
re-deciding events never committed, signing the body."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from raftcron.config.cluster import NotifyConfig
from raftcron.errors import UnavailableError
from raftcron.model.outbox import OUTBOX_KEEP, notification_id
from raftcron.notify.outbox import Outbox
from raftcron.notify.sender import Notifier
from raftcron.state.machine import StateMachine
from tests.support.state import Log
from tests.unit.notify.test_notify_sender import Env, T, env  # noqa: F401 (the fixture)

AT = "2024-05-01T10:00:00Z"


def item(ident: str, event: str = "failure") -> dict:
    return {"id": ident, "job": "j", "event": event, "run_id": "r1", "kind": "webhook",
            "target": "http://h/x", "payload": {"id": ident}}


def test_outbox_intent_is_recorded_once_and_the_first_result_stands(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    log = Log(sm)
    assert log("notify_intent", {"items": [item("a"), item("b")], "at": AT})["recorded"] == [
        "a", "b"]
    assert log("notify_intent", {"items": [item("a"), item("c")], "at": AT})["recorded"] == ["c"]
    first = log("notify_result", {"id": "a", "status": "delivered", "attempts": 1, "at": AT})
    again = log("notify_result", {"id": "a", "status": "failed", "attempts": 3, "at": AT})
    assert first["changed"] is True and again == {"ok": True, "changed": False,
                                                  "status": "delivered"}
    assert log("notify_result", {"id": "zz", "status": "failed", "at": AT})["error"] == "not_found"
    rows = sm.dump()["notifications"]
    assert [(r[1], r[8]) for r in rows] == [("a", "delivered"), ("b", "pending"),
                                           ("c", "pending")]
    sm.close()


def test_outbox_keeps_pending_and_trims_old_finished(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    log = Log(sm)
    total = OUTBOX_KEEP + 300
    for start in range(0, total, 1000):
        ids = [f"n{i}" for i in range(start, min(total, start + 1000))]
        log("notify_intent", {"items": [item(i) for i in ids], "at": AT})
        for i in ids[1:]:  # the first of each thousand stays pending
            log("notify_result", {"id": i, "status": "delivered", "at": AT})
    log("notify_intent", {"items": [item(f"x{i}") for i in range(200)], "at": AT})
    rows = sm.dump()["notifications"]
    pending = {r[1] for r in rows if r[8] == "pending"}
    assert {f"n{i}" for i in range(0, total, 1000)} <= pending
    assert len([r for r in rows if r[8] != "pending"]) <= OUTBOX_KEEP + 100
    sm.close()


def test_notification_id_is_stable_and_target_specific() -> None:
    assert notification_id("failure", "r1", "http://a") == notification_id("failure", "r1",
                                                                             "http://a")
    assert notification_id("failure", "r1", "http://a") != notification_id("failure", "r1",
                                                                             "http://b")


@pytest.mark.asyncio
async def test_a_new_leader_delivers_what_the_old_one_left_pending(env: Env) -> None:  # noqa: F811
    cfg = NotifyConfig()

    async def dying(op: str, args: dict, **kwargs: object) -> dict:
        if op == "notify_result":  # the old leader is gone before its result commits
            raise UnavailableError("no leader")
        return await env.node.propose(op, args, **kwargs)

    old = Notifier(read=env.read, clock=env.clock, self_id="p1", config=cfg,
                   propose=dying, tick=3600, attempts=1, timeout=5, backoff=0.01)
    env.node.apply_listeners[:] = [old.on_applied]
    await old.start()
    env.hook.fail_first = 1  # the old leader's one attempt fails
    env.job(on=["failure"], webhook_secret="hook-secret")
    env.run("r1", "failed", 1)
    await old.drain()
    await old.close()
    assert env.hook.requests == 1 and env.hook.bodies == []
    outbox = env.read.list_notifications()[0]
    assert [(n["event"], n["status"]) for n in outbox] == [("failure", "pending")]

    new = Notifier(read=env.read, clock=env.clock, self_id="p2", config=cfg,
                   propose=env.node.propose, tick=3600, attempts=3, timeout=5, backoff=0.01)
    env.node.apply_listeners[:] = [new.on_applied]
    await new.start()
    for _ in range(500):
        await new.drain()
        if env.read.list_notifications()[0][0]["status"] != "pending":
            break
        await asyncio.sleep(0.01)
    assert [b["event"] for b in env.hook.bodies] == ["failure"]
    body, headers = env.hook.bodies[0], env.hook.headers[0]
    assert headers["X-Raftcron-Delivery"] == body["id"] == outbox[0]["id"]
    raw = json.dumps(body, ensure_ascii=False).encode()
    expected = "sha256=" + hmac.new(b"hook-secret", raw, hashlib.sha256).hexdigest()
    assert headers["X-Raftcron-Signature"] == expected
    assert env.read.list_notifications()[0][0]["status"] == "delivered"
    await new.close()


@pytest.mark.asyncio
async def test_a_new_leader_redecides_an_event_never_committed(env: Env) -> None:  # noqa: F811
    env.job(on=["failure"])
    env.run("r1", "failed", 1)  # no leader was telling: no intent committed
    n = env.make()
    await n.start()
    for _ in range(500):
        await n.drain()
        if env.hook.bodies:
            break
        await asyncio.sleep(0.01)
    assert [(b["event"], b["run"]["id"]) for b in env.hook.bodies] == [("failure", "r1")]
    await n.stop()
    await n.start()  # a second leadership finds it delivered: nothing again
    await n.drain()
    assert len(env.hook.bodies) == 1


@pytest.mark.asyncio
async def test_a_page_read_while_pending_does_not_send_a_delivered_notification_again() -> None:
    # A leader starting delivers what it reads as pending; a delivery of the same id may
    # finish meanwhile (its intent was applied as leadership began). The page read before
    # the result applied must not send it a second time.
    posts: list[dict] = []
    proposed: list[str] = []

    async def propose(op: str, args: dict, **kwargs: object) -> dict:
        proposed.append(op)
        return {"ok": True}

    async def job_of(name: str) -> dict | None:
        return {"name": name, "notify": {}}

    box = Outbox(propose=propose, now=lambda: AT, config=NotifyConfig(), job_of=job_of,
                 attempts=1, timeout=5, backoff=0.01,
                 post=lambda url, payload, timeout, **_: posts.append(payload))
    box.start()
    box.deliver(item("a"))  # applied as leadership began
    await box.drain()
    assert [p["id"] for p in posts] == ["a"] and proposed == ["notify_result"]

    async def stale_page(after: int) -> list[dict]:
        return [{**item("a"), "seq": 1}] if after == 0 else []
    assert await box.resume(stale_page) == 1
    await box.drain()
    assert [p["id"] for p in posts] == ["a"]  # not sent again
    box.stop()
    box.start()  # a new leadership starts from the state: it delivers what the state says
    box.deliver(item("a"))
    await box.drain()
    assert [p["id"] for p in posts] == ["a", "a"]
    await box.close()
