"""`--json` prints JSON only; `runs logs --follow`; `jobs run --wait` names the reason; times a
person reads (issue 13, items 2, 5 and 6)."""

from __future__ import annotations

import argparse
import importlib
import json
import threading

import pytest

from raftcron.cli import SUBCOMMANDS, _Parser, main
from raftcron.cli.completion_cmd import _actions
from raftcron.cli.output import run_outcome, utc_time, zone_time
from tests.support.api import SELF, LiveApi, fire_record
from tests.support.wait import wait_until
from tests.unit.cli.conftest import run_cli as run


def test_cli_json_prints_json_only_for_every_command(
        api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.apply("fire", {"runs": [], "at": "2030-01-01T00:00:00Z"})
    commands = [
        ("jobs", "add", "j", "--schedule", "@hourly", "--", "true"),
        ("jobs", "add", "j", "--replace", "--schedule", "@hourly", "--", "true"),
        ("jobs", "edit", "j", "--set", "retries=1"),
        ("jobs", "list"), ("jobs", "show", "j"), ("jobs", "pause", "j"),
        ("jobs", "resume", "j"), ("jobs", "run", "j"), ("runs", "list"),
        ("nodes", "list"), ("status",),
    ]
    for argv in commands:
        code, out, err = run(capsys, *argv[:2], "--json", *argv[2:])
        assert code == 0, (argv, err)
        json.loads(out)  # the whole of stdout is one JSON document
    run_id = json.loads(run(capsys, "runs", "list", "--json")[1])["items"][0]["id"]
    api.apply("run_started", {"run_id": run_id, "peer": SELF, "at": "2030-01-01T00:00:01Z"})
    (api.root / "output").mkdir()
    (api.root / "output" / f"{run_id}.stdout").write_text("o\n")
    (api.root / "output" / f"{run_id}.stderr").write_text("e\n")
    assert json.loads(run(capsys, "runs", "logs", run_id, "--stream", "stdout", "--json")[1]
                      ) == {"stdout": "o\n"}
    for argv in (("runs", "show", run_id), ("runs", "logs", run_id),
                 ("runs", "logs", run_id, "--stream", "stdout"), ("runs", "cancel", run_id),
                 ("jobs", "rm", "j")):
        code, out, err = run(capsys, *argv, "--json")
        assert code == 0, (argv, err)
        json.loads(out)


def test_cli_runs_logs_follow_prints_output_until_the_run_ends(
        api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "f", "--schedule", "@hourly", "--", "true")
    api.apply("fire", {"runs": [fire_record("f", "2030-01-01T01:00:00Z", run_id="r1")],
                       "at": "2030-01-01T01:00:00Z"})
    api.apply("run_started", {"run_id": "r1", "peer": SELF, "at": "2030-01-01T01:00:01Z"})
    out_dir = api.root / "output"
    out_dir.mkdir()
    stdout = out_dir / "r1.stdout"
    stderr = out_dir / "r1.stderr"
    stdout.write_text("line 1\n")
    stderr.write_text("")
    result: list[int] = []
    follower = threading.Thread(target=lambda: result.append(
        main(["runs", "logs", "r1", "--follow"])))
    follower.start()
    out, err = "", ""

    def seen(text: str) -> bool:
        nonlocal out, err
        got = capsys.readouterr()
        out, err = out + got.out, err + got.err
        return text in out

    # It follows a live run: whole lines as they come, a partial line held back.
    with stdout.open("a") as f:
        f.write("line 2\npartial")
    wait_until(lambda: seen("line 1\nline 2\n"), 20, "the follower to print line 2")
    assert "partial" not in out and not result
    with stdout.open("a") as f:
        f.write(" end\n")
    stderr.write_text("boom\n")
    api.apply("run_finished", {"run_id": "r1", "status": "failed", "exit_code": 3,
                               "stdout_tail": "", "stderr_tail": "boom\n", "reason": None,
                               "at": "2030-01-01T01:00:05Z", "output_bytes": 30})
    follower.join(30)
    seen("")
    assert result == [1]
    assert out == "line 1\nline 2\npartial end\n"
    assert "boom\n" in err and "run r1 failed (exit 3)" in err
    code, out, _ = run(capsys, "runs", "logs", "r1", "--follow", "--json")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[-1]["run"]["status"] == "failed"
    assert "".join(x["text"] for x in lines[:-1] if x["stream"] == "stdout") == (
        "line 1\nline 2\npartial end\n")


def test_cli_jobs_run_wait_prints_the_reason_not_exit_none(
        api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "w", "--schedule", "@hourly", "--", "true")

    def worker() -> None:
        items = wait_until(lambda: api.client().list_runs(job="w")["items"], 10, "the run")
        api.apply("run_finished", {"run_id": items[0]["id"], "status": "timed_out",
                                   "exit_code": None, "stdout_tail": "",
                                   "stderr_tail": "slow\n", "reason": "timed out after 10s",
                                   "at": "2030-01-01T00:00:12Z", "output_bytes": 0})

    thread = threading.Thread(target=worker)
    thread.start()
    code, out, err = run(capsys, "jobs", "run", "w", "--wait", "--wait-timeout", "60")
    thread.join(30)
    assert code == 1
    assert "timed_out: timed out after 10s" in out and "None" not in out
    assert "slow" in err


def test_times_for_people() -> None:
    assert utc_time("2030-01-01T01:02:03.456789Z") == "2030-01-01T01:02:03Z"
    assert utc_time(None) == "-"
    assert zone_time("2030-01-01T01:30:00.5Z", "Europe/Berlin") == (
        "2030-01-01 02:30:00 Europe/Berlin")
    assert zone_time("2030-07-01T01:30:00Z", None) == "2030-07-01 01:30:00 UTC"
    assert zone_time("2030-07-01T01:30:00Z", "Not/AZone") == "2030-07-01 01:30:00 UTC"
    assert run_outcome({"id": "r", "status": "lost", "exit_code": None,
                        "reason": "peer a stopped"}) == "run r lost: peer a stopped"


def test_cli_runs_list_slot_has_no_microseconds(
        api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "e", "--schedule", "@every 1m", "--", "true")
    api.apply("fire", {"runs": [fire_record("e", "2030-01-01T00:01:00.123456Z",
                                            run_id="r1")], "at": "2030-01-01T00:01:00Z"})
    code, out, _ = run(capsys, "runs", "list")
    assert code == 0 and "2030-01-01T00:01:00Z" in out and ".123456" not in out


def test_cli_next_json_prints_a_json_array(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "next", "30 2 * * *", "--after", "2030-01-01T00:00:00Z",
                       "--count", "2", "--json")
    assert code == 0
    assert json.loads(out) == ["2030-01-01T02:30:00+00:00", "2030-01-02T02:30:00+00:00"]


def test_cli_every_client_option_has_help_text() -> None:
    missing = []
    for name in ("jobs", "runs", "nodes", "status", "import-crontab", "backup", "restore",
                 "next"):
        parser = _Parser(prog=f"raftcron {name}")
        importlib.import_module(SUBCOMMANDS[name]).add_arguments(parser, name)
        parsers = {"": parser, **_actions(parser)}
        for action_name, sub in parsers.items():
            for action in sub._actions:
                if action.option_strings and not isinstance(action, argparse._HelpAction) \
                        and not action.help:
                    missing.append(f"{name} {action_name} {action.option_strings[0]}")
    assert not missing, missing
