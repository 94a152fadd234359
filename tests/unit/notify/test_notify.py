"""Notification decisions (raftcron/notify.py): table tests, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raftcron.model import NotifyEvent
from raftcron.notify import decisions as notify
from raftcron.schedule import parse

ALL = [e.value for e in NotifyEvent]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def run(status: str, attempt: int = 1, **extra) -> dict:
    return {"id": "r9", "job": "j", "slot": "2024-05-01T12:00:00Z", "attempt": attempt,
            "status": status, **extra}


@pytest.mark.parametrize(("status", "attempt", "retries", "previous", "expected"), [
    ("failed", 1, 0, None, ["failure"]),
    ("timed_out", 1, 0, "succeeded", ["failure"]),
    ("lost", 1, 0, None, ["failure"]),
    ("failed", 1, 2, None, []),             # a retry follows
    ("failed", 2, 2, None, []),             # another retry follows
    ("failed", 3, 2, None, ["failure"]),    # the last attempt
    ("lost", 2, 1, None, ["failure"]),
    ("succeeded", 1, 0, None, ["success"]),
    ("succeeded", 1, 0, "succeeded", ["success"]),
    ("succeeded", 1, 0, "failed", ["recovery", "success"]),
    ("succeeded", 2, 1, "timed_out", ["recovery", "success"]),
    ("succeeded", 1, 0, "lost", ["recovery", "success"]),
    ("cancelled", 1, 0, "failed", []),
    ("skipped", 1, 0, None, ["missed"]),
    ("missed", 1, 0, "failed", ["missed"]),
])
def test_notify_run_events_table(status, attempt, retries, previous, expected) -> None:
    got = notify.run_events(ALL, run(status, attempt), previous, retries)
    assert [str(e) for e in got] == expected


@pytest.mark.parametrize(("on", "status", "previous", "expected"), [
    (["failure", "recovery"], "succeeded", "failed", ["recovery"]),
    (["failure", "recovery"], "succeeded", "succeeded", []),
    (["failure", "recovery"], "skipped", None, []),
    (["success"], "failed", None, []),
    ([], "failed", None, []),
    (["missed"], "missed", None, ["missed"]),
])
def test_notify_run_events_only_what_on_lists(on, status, previous, expected) -> None:
    assert [str(e) for e in notify.run_events(on, run(status), previous, 0)] == expected


def test_notify_previous_outcome_skips_itself_its_slot_and_non_outcomes() -> None:
    current = run("succeeded", attempt=2, id="r3")
    history = [
        {"id": "r3", "slot": current["slot"], "status": "succeeded"},
        {"id": "r2", "slot": current["slot"], "status": "failed"},   # its own retry chain
        {"id": "r1b", "slot": "2024-05-01T11:00:00Z", "status": "cancelled"},
        {"id": "r1", "slot": "2024-05-01T11:00:00Z", "status": "timed_out"},
        {"id": "r0", "slot": "2024-05-01T10:00:00Z", "status": "succeeded"},
    ]
    assert notify.previous_outcome(current, history) == "timed_out"
    assert notify.previous_outcome(current, history[:3]) is None


H = timedelta(hours=1)


@pytest.mark.parametrize(("after", "now_offset", "told_for", "due"), [
    (H, 0.5 * H, None, False),          # not yet
    (H, H, None, True),                 # exactly at the deadline
    (H, 3 * H, None, True),
    (H, 3 * H, T0, False),              # already told about this absence
    (H, 3 * H, T0 - 5 * H, True),       # told about an earlier absence: a success came since
    (None, 3 * H, None, False),         # no absent_after: never
])
def test_notify_absence_table(after, now_offset, told_for, due) -> None:
    found = notify.absence("j", reference=T0, absent_after=after, now=T0 + now_offset,
                           told_for=told_for)
    assert (found is not None) == due
    if found is not None:
        assert found.reference == T0 and found.deadline == T0 + after


@pytest.mark.parametrize(("expr", "expected"), [
    ("*/5 * * * *", timedelta(minutes=10)),
    ("@hourly", timedelta(hours=2)),
    ("0 30 2 * * *", timedelta(days=2)),
    ("@at 2020-01-01T00:00:00Z", None),
])
def test_notify_default_absent_after_is_twice_the_period(expr, expected) -> None:
    assert notify.default_absent_after(parse(expr, name="j"), T0) == expected


def test_notify_targets_merge_job_and_global_deduplicated() -> None:
    got = notify.targets({"webhook": "http://a/h", "email": ["x@e.org"]},
                         global_webhook="http://a/h", global_email=["y@e.org", "x@e.org"])
    assert got.webhooks == ("http://a/h",) and got.emails == ("x@e.org", "y@e.org")
    assert notify.targets({}, global_webhook=None, global_email=[]).empty


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:s3cret@hooks.example.com:8443/x/y?token=abc#f",
     "https://hooks.example.com:8443/x/y"),
    ("http://127.0.0.1/hook?key=k", "http://127.0.0.1/hook"),
])
def test_notify_redact_url_drops_userinfo_and_query(url, shown) -> None:
    assert notify.redact_url(url) == shown


def test_notify_payload_and_email_carry_the_run() -> None:
    r = run("failed", exit_code=3, reason="exit status 3", stdout_tail="out\n",
            stderr_tail="boom\n", manual=False, output_bytes=9)
    payload = notify.webhook_payload(NotifyEvent.FAILURE, "j", r, peer="p1", at="T")
    assert set(payload) == {"event", "job", "run", "peer", "at"}
    assert payload["event"] == "failure" and payload["run"]["exit_code"] == 3
    assert set(payload["run"]) == set(notify.RUN_FIELDS)
    subject, body = notify.email_text("failure", "j", r, peer="p1", at="T")
    assert subject == "[raftcron] j failure"
    assert "Status: failed" in body and "Exit code: 3" in body and "exit status 3" in body
    assert "boom" in body and "out" in body
