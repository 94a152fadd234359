"""`raftcron jobs|runs|nodes|status` through `raftcron.cli.main` against a live API."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from raftcron.cli import main
from tests.support.api import OTHER, SELF, TOKEN, LiveApi, fire_record
from tests.support.wait import wait_until
from tests.unit.cli.conftest import run_cli as run


def test_cli_jobs_add_list_show(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "jobs", "add", "backup", "--schedule", "0 30 2 * * *",
                         "--tz", "Europe/Berlin", "--env", "LEVEL=full", "--label", "team=data",
                         "--roles", "db,main", "--timeout", "2h", "--",
                         "/usr/local/bin/backup.sh", "--full")
    assert code == 0, err
    # A person reads the next run in the job's own time zone, named next to it.
    assert "created job backup" in out and "next run: 2030-01-01 02:30:00 Europe/Berlin" in out
    job = api.client(TOKEN).get_job("backup")  # env values are shown to a token only
    assert job["command"] == ["/usr/local/bin/backup.sh", "--full"]
    assert job["env"] == {"LEVEL": "full"} and job["labels"] == {"team": "data"}
    assert job["roles"] == ["db", "main"] and job["timeout"] == "2h"
    code, out, _ = run(capsys, "jobs", "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:2] == ["NAME", "STATUS"]
    assert row.startswith("backup") and "2030-01-01 02:30:00 Europe/Berlin" in row
    code, out, _ = run(capsys, "jobs", "show", "backup")
    fields = dict(line.split(None, 1) for line in out.splitlines() if " " in line.strip())
    assert code == 0 and fields["tz"] == "Europe/Berlin" and fields["retries"] == "0"
    assert fields["command"] == "/usr/local/bin/backup.sh --full"
    assert "2030-01-01 02:30:00 Europe/Berlin" in out  # the next runs, in the job's zone
    code, out, _ = run(capsys, "jobs", "show", "backup", "--json")
    assert code == 0 and json.loads(out)["tz"] == "Europe/Berlin"
    code, out, _ = run(capsys, "jobs", "list", "--json")
    assert [j["name"] for j in json.loads(out)] == ["backup"]


def test_cli_jobs_add_shell_and_replace(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "jobs", "add", "sh", "--schedule", "@every 5m", "--shell", "--",
               "echo", "$HOME")[0] == 0
    assert api.client().get_job("sh")["command"] == "echo $HOME"
    code, _, err = run(capsys, "jobs", "add", "sh", "--schedule", "@hourly", "--", "true")
    assert code == 4 and "already exists" in err  # conflict
    code, out, _ = run(capsys, "jobs", "add", "sh", "--replace", "--schedule", "@hourly",
                       "--", "true")
    assert code == 0 and "replaced job sh" in out


def test_cli_jobs_add_from_file(api: LiveApi, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"schedule": "*/10 * * * *", "command": ["true"],
                                "description": "from a file"}))
    code, _, err = run(capsys, "jobs", "add", "filed", "--file", str(path))
    assert code == 0, err
    assert api.client().get_job("filed")["description"] == "from a file"


def test_cli_jobs_pause_resume_run_rm(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "a", "--schedule", "@hourly", "--", "true")
    assert run(capsys, "jobs", "pause", "a")[1].strip() == "job a is paused"
    assert run(capsys, "jobs", "resume", "a")[1].strip() == "job a is scheduled"
    code, out, _ = run(capsys, "jobs", "run", "a")
    assert code == 0 and out.startswith("run ") and " of a on " in out
    code, out, _ = run(capsys, "jobs", "rm", "a")
    assert code == 0 and "deleted job a" in out
    code, out, err = run(capsys, "jobs", "show", "a")
    assert code == 3 and out == "" and "no job named 'a'" in err  # not found


def test_cli_errors_exit_with_their_kind_without_traceback(
        api: LiveApi, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, "jobs", "add", "x", "--schedule", "99 * * * *", "--", "true")
    assert code == 2 and "minute" in err and "Traceback" not in err
    code, _, err = run(capsys, "jobs", "add", "x", "--schedule", "@hourly")
    assert code == 2 and "command" in err
    code, _, err = run(capsys, "jobs", "add", "x", "--schedule", "@hourly", "--env", "NOEQUALS",
                       "--", "true")
    assert code == 2 and "--env" in err
    monkeypatch.setenv("RAFTCRON_TOKEN", "wrong")
    code, _, err = run(capsys, "jobs", "pause", "x")
    assert code == 5 and "token" in err  # unauthorized
    code, _, err = run(capsys, "status", "--api", "http://127.0.0.1:9")
    assert code == 6 and "cannot reach" in err  # unavailable
    with pytest.raises(SystemExit) as exit_info:
        main(["jobs", "frobnicate"])
    assert exit_info.value.code == 2
    assert api.state.applied_index == 0


def test_cli_runs_list_show_logs_cancel(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "a", "--schedule", "@hourly", "--", "true")
    for i, peer in ((1, SELF), (2, OTHER)):
        api.apply("fire", {"runs": [fire_record("a", f"2030-01-01T0{i}:00:00Z", run_id=f"r{i}",
                                                peer=peer)], "at": f"2030-01-01T0{i}:00:00Z"})
    code, out, _ = run(capsys, "runs", "list", "--job", "a")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["ID", "JOB"]
    assert [line.split()[0] for line in lines[1:]] == ["r2", "r1"]
    code, out, _ = run(capsys, "runs", "show", "r1")
    assert code == 0 and "status" in out and "pending" in out.split("status", 1)[1]
    code, out, _ = run(capsys, "runs", "show", "r1", "--json")
    assert code == 0 and json.loads(out)["status"] == "pending"
    (api.root / "output").mkdir()
    (api.root / "output" / "r1.stdout").write_text("out text\n")
    (api.root / "output" / "r1.stderr").write_text("err text\n")
    code, out, err = run(capsys, "runs", "logs", "r1")
    assert code == 0 and out == "out text\n" and err == "err text\n"
    code, out, _ = run(capsys, "runs", "logs", "r1", "--stream", "stderr")
    assert out == "err text\n"
    code, out, _ = run(capsys, "runs", "cancel", "r1")
    assert code == 0 and "cancelling run r1" in out
    code, _, err = run(capsys, "runs", "show", "r9")
    assert code == 3 and "r9" in err


def test_cli_nodes_and_status(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "nodes", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAME", "KIND", "ROLES", "HEALTH", "LOAD",
                                              "ACTIVE"]
    assert any(line.startswith(f"{SELF} *") for line in lines)
    code, out, _ = run(capsys, "status")
    assert code == 0 and f"leader   {SELF}" in out and "commit 0 applied 0" in out
    code, out, _ = run(capsys, "status", "--json")
    assert json.loads(out)["role"] == "leader"


def test_cli_jobs_run_wait_reports_the_outcome(api: LiveApi,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "a", "--schedule", "@hourly", "--", "true")

    def worker() -> None:  # plays the executing peer: finishes the run once it exists
        items = wait_until(lambda: api.client().list_runs(job="a")["items"], 10, "the manual run")
        run_id = items[0]["id"]
        api.apply("run_started", {"run_id": run_id, "peer": items[0]["peer"],
                                  "at": "2030-01-01T00:00:01Z"})
        api.apply("run_finished", {"run_id": run_id, "status": "failed", "exit_code": 4,
                                   "stdout_tail": "", "stderr_tail": "", "reason": None,
                                   "at": "2030-01-01T00:00:02Z", "output_bytes": 0})

    thread = threading.Thread(target=worker)
    thread.start()
    code, out, _ = run(capsys, "jobs", "run", "a", "--wait", "--wait-timeout", "60")
    thread.join(30)
    assert code == 1 and "failed (exit 4)" in out and "None" not in out


def test_cli_jobs_backfill_starts_one_or_says_how_many_slots(
        api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    for peer in api.node.peers:  # the cluster reads command version 4
        peer["command_version"] = 4
    run(capsys, "jobs", "add", "h", "--schedule", "0 * * * *", "--", "true")
    start, end = api.clock.now().replace(year=2029), api.clock.now().replace(year=2029, month=12)
    code, _, err = run(capsys, "jobs", "backfill", "h", "--from", start.isoformat(),
                       "--to", end.isoformat(), "--cap", "10")
    assert code == 2 and "slots, more than the cap of 10" in err
    code, out, _ = run(capsys, "jobs", "backfill", "h", "--from", "2029-12-31T20:00:00Z",
                       "--to", "2029-12-31T22:30:00Z")
    assert code == 0 and out.startswith("backfill ") and out.strip().endswith("3 slots")
    (bf,) = api.client().request("GET", "/jobs/h/backfills")["items"]
    assert bf["slots"] == ["2029-12-31T20:00:00Z", "2029-12-31T21:00:00Z",
                           "2029-12-31T22:00:00Z"]
