"""`jobs add` sets every job field, `jobs edit --set/--unset` changes some (issue 13, item 1)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from raftcron.cli import job_options
from raftcron.errors import ValidationError
from raftcron.model.job import FIELDS
from tests.support.api import OTHER, SELF, TOKEN, LiveApi
from tests.support.fake_node import THIRD
from tests.unit.cli.conftest import run_cli as run


def test_cli_jobs_add_sets_every_job_field(api: LiveApi, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for peer in (SELF, OTHER, THIRD):  # the cluster reads command version 4 (new fields)
        api.node.set_peer(peer, command_version=4)
    script = tmp_path / "job.py"
    script.write_text("print('hi')\n")
    for other in ("up", "oncall"):
        assert run(capsys, "jobs", "add", other, "--schedule", "@every 5m", "--user", "nobody",
                   "--", "true")[0] == 0
    code, _, err = run(
        capsys, "jobs", "add", "every", "--schedule", "@every 5m", "--tz", "Europe/Paris",
        "--description", "all of it", "--script", str(script), "--interpreter",
        "/usr/bin/env python3", "--env", "A=1", "--cwd", "/tmp", "--user", "nobody",
        "--timeout", "1h", "--kill-grace", "3s", "--retries", "2", "--retry-backoff", "5s",
        "--retry-backoff-max", "1m", "--concurrency", "queue", "--catchup", "all",
        "--catchup-window", "2h", "--jitter", "10s", "--start-at", "2030-01-02T00:00:00Z",
        "--end-at", "2031-01-01T00:00:00Z", "--max-runs", "7", "--hosts", "all",
        "--roles", "db,main", "--keep-runs", "20", "--output-tail", "100",
        "--output-limit", "2MiB", "--paused",
        "--notify-on", "failure,success", "--notify-webhook", "https://hooks.example/x",
        "--notify-email", "ops@example.com", "--notify-absent-after", "2d",
        "--label", "team=data", "--owner", "ann:ann@example.com", "--set", "type=script",
        "--after", "up", "--on-failure", "oncall", "--pause-after-failures", "3",
        "--success-exit-codes", "0,3", "--fail-if-output-matches", "^FATAL",
        "--expected-duration", "10m", "--schedule", "30 2 * * *", "--blackout",
        "* 0-6 * * sat,sun", "--max-parallel", "25%", "--stop-on-failure",
        "--concurrency", "queue_all", "--queue-cap", "4")
    assert code == 0, err
    job = api.client(TOKEN).get_job("every")
    expected = {
        "description": "all of it", "schedule": "@every 5m", "tz": "Europe/Paris",
        "type": "script", "script": base64.b64encode(script.read_bytes()).decode(),
        "interpreter": ["/usr/bin/env", "python3"], "env": {"A": "1"}, "cwd": "/tmp",
        "user": "nobody", "timeout": "1h", "kill_grace": "3s", "retries": 2,
        "retry_backoff": "5s", "retry_backoff_max": "1m", "concurrency": "queue",
        "catchup": "all", "catchup_window": "2h", "jitter": "10s",
        "start_at": "2030-01-02T00:00:00Z", "end_at": "2031-01-01T00:00:00Z", "max_runs": 7,
        "hosts": "all", "roles": ["db", "main"], "keep_runs": 20, "paused": True,
        "output_tail": 100, "output_limit": 2 * 1024 * 1024, "labels": {"team": "data"},
        "notify": {"on": ["failure", "success"], "webhook": "https://hooks.example/x",
                   "email": ["ops@example.com"], "absent_after": "2d"},
        "owners": [{"name": "ann", "email_address": "ann@example.com"}],
        "after": ["up"], "on_failure": ["oncall"], "pause_after_failures": 3,
        "success_exit_codes": [0, 3], "fail_if_output_matches": "^FATAL",
        "expected_duration": "10m", "blackout": ["* 0-6 * * sat,sun"],
        "max_parallel": "25%", "keep_going": False, "queue_cap": 4,
    }
    expected.update(schedule=["@every 5m", "30 2 * * *"], concurrency="queue_all")
    assert {k: job[k] for k in expected} == expected
    # Every field of the model has an option (the command comes after `--`;
    # `--concurrency-group`, which cannot go with `max_parallel`, is in test_cli_windows).
    assert set(FIELDS) - set(expected) == {"name", "command", "concurrency_group"}


def test_cli_set_is_typed_from_the_job_model() -> None:
    assert job_options.typed_value("retries", "3") == 3
    assert job_options.typed_value("output_limit", "4096") == 4096
    assert job_options.typed_value("output_limit", "10MiB") == "10MiB"
    assert job_options.typed_value("paused", "yes") is True
    assert job_options.typed_value("roles", "a, b") == ["a", "b"]
    assert job_options.typed_value("roles", '["x"]') == ["x"]
    assert job_options.typed_value("command", "echo $HOME") == "echo $HOME"
    assert job_options.typed_value("command", '["/bin/echo", "hi"]') == ["/bin/echo", "hi"]
    assert job_options.typed_value("interpreter", "/usr/bin/env python3") == [
        "/usr/bin/env", "python3"]
    assert job_options.typed_value("env", '{"A": "1"}') == {"A": "1"}
    assert job_options.typed_value("env.A", "1") == "1"
    assert job_options.typed_value("notify.on", "failure,missed") == ["failure", "missed"]
    assert job_options.typed_value("timeout", "2h") == "2h"
    for key, text, field in (("retries", "three", "retries"), ("paused", "maybe", "paused"),
                             ("bogus", "1", "bogus"), ("notify.nope", "1", "notify.nope"),
                             ("env", "A=1", "env"), ("owners", "[", "owners")):
        with pytest.raises(ValidationError) as err:
            job_options.typed_value(key, text)
        assert err.value.field == field


def test_cli_jobs_edit_sets_and_unsets_fields(api: LiveApi,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "e", "--schedule", "@hourly", "--retries", "1", "--jitter",
        "10s", "--env", "A=1", "--env", "B=2", "--", "true")
    code, out, err = run(capsys, "jobs", "edit", "e", "--set", "retries=4", "--set",
                         "env.C=3", "--unset", "env.A", "--unset", "jitter", "--set",
                         "description=edited")
    assert code == 0, err
    assert out.startswith("changed job e (version 2)")
    job = api.client(TOKEN).get_job("e")
    assert job["retries"] == 4 and job["env"] == {"B": "2", "C": "3"}
    assert job["jitter"] == "0s" and job["description"] == "edited"
    assert job["command"] == ["true"] and job["schedule"] == "@hourly"
    code, out, _ = run(capsys, "jobs", "edit", "e", "--set", "paused=true", "--json")
    assert code == 0 and json.loads(out)["status"] == "paused"


def test_cli_jobs_edit_refusals_change_nothing(api: LiveApi,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "jobs", "add", "e", "--schedule", "@hourly", "--", "true")
    index = api.state.applied_index
    code, out, err = run(capsys, "jobs", "edit", "e", "--set", "retries=-1")
    assert code == 2 and out == "" and "retries" in err and "Traceback" not in err
    code, _, err = run(capsys, "jobs", "edit", "e", "--set", "nonsense=1")
    assert code == 2 and "nonsense" in err
    code, _, err = run(capsys, "jobs", "edit", "e", "--unset", "nonsense")
    assert code == 2 and "nonsense" in err
    code, _, err = run(capsys, "jobs", "edit", "e")
    assert code == 2 and "nothing to change" in err
    code, _, err = run(capsys, "jobs", "edit", "missing", "--set", "retries=1")
    assert code == 3 and "no job named 'missing'" in err
    assert api.state.applied_index == index
