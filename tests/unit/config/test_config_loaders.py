"""Job and node files (ours and distcrond's), the example configs, seed 002's POST body."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest

from raftcron.config.cluster import (
    distributed_cronjob_name,
    is_distributed_cronjob_body,
    job_from_distributed_cronjob,
    load_job_file,
    load_jobs_dir,
    load_jobs_dir_files,
    load_node_file,
    load_nodes_dir,
)
from raftcron.errors import ConfigError, ValidationError
from raftcron.model import ConnectionType, Hosts, JobType, Owner, job_from_dict, job_to_dict
from tests.support.paths import DATA, ROOT

CONFIGS = ROOT / "configs"
DISTCROND = DATA / "distcrond"


def test_load_job_file_reads_distcronds_seed_job() -> None:
    job = load_job_file(DISTCROND / "jobs.d" / "job1.json")
    assert job.name == "job1"                          # the file stem
    assert job.description == "Do something!"
    assert job.owners == [Owner(name="Martin Helmich", email_address="kontakt@martin-helmich.de")]
    assert job.hosts is Hosts.ANY and job.roles == ["web", "db"]
    assert job.schedule == "@every 10m"
    assert job.command == ["/bin/ls", "-l", "-a", "/tmp"]


def test_load_job_file_reads_distcronds_interval_schedule() -> None:
    job = load_job_file(DISTCROND / "jobs.d" / "job2.json")
    assert job.schedule == {"interval": "10m", "reference": "03:10"}


def test_load_job_file_reads_a_six_field_schedule() -> None:
    job = load_job_file(DISTCROND / "jobs.d" / "job3.json")
    assert job.schedule == "0 34 12 * 4-9 0,6" and job.hosts is Hosts.ALL


def test_load_jobs_dir_reads_the_seed_jobs_in_file_order() -> None:
    assert [j.name for j in load_jobs_dir(DISTCROND / "jobs.d")] == ["job1", "job2", "job3"]


def test_load_jobs_dir_files_names_each_job_s_file(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text('name = "renamed"\nschedule = "@hourly"\ncommand = "true"\n')
    (tmp_path / "a.toml").write_text('schedule = "@hourly"\ncommand = "true"\n')
    got = [(job.name, file_name) for job, file_name in load_jobs_dir_files(tmp_path)]
    assert got == [("a", "a.toml"), ("renamed", "b.toml")]


def test_load_nodes_dir_reads_distcronds_seed_nodes() -> None:
    local, remote = load_nodes_dir(DISTCROND / "nodes.d")
    assert (local.name, local.connection_type) == ("node_local", ConnectionType.LOCAL)
    assert local.roles == ["role1", "role2"]
    assert remote.name == "node_remote"
    assert (remote.ssh_user, remote.ssh_host, remote.ssh_port) == (
        "mhelmich", "your.remote.host", 22)
    assert remote.ssh_private_key_file == "/home/mhelmich/.ssh/id_rsa"


def test_load_jobs_dir_reads_the_example_jobs() -> None:
    jobs = {j.name: j for j in load_jobs_dir(CONFIGS / "jobs.d")}
    assert {"heartbeat", "nightly-report", "flaky"} <= set(jobs)
    assert jobs["heartbeat"].schedule == "@every 10s"
    assert "date" in str(jobs["heartbeat"].command)
    assert jobs["nightly-report"].schedule == "H H * * *"
    flaky = jobs["flaky"]
    assert flaky.retries == 2 and flaky.schedule == "* * * * *"
    assert "exit 1" in str(flaky.command)


def test_load_nodes_dir_reads_the_example_node() -> None:
    nodes = load_nodes_dir(CONFIGS / "nodes.d")
    assert nodes and all(n.connection_type is ConnectionType.LOCAL for n in nodes)


def test_load_job_file_reads_toml_with_tables(tmp_path: Path) -> None:
    path = tmp_path / "backup.toml"
    path.write_text(
        'schedule = "0 30 2 * * *"\ntz = "Europe/Berlin"\ncommand = ["/bin/backup", "--full"]\n'
        'timeout = "2h"\nstart_at = 2026-01-01T00:00:00Z\n'
        '[env]\nLEVEL = "full"\n[notify]\non = ["failure"]\nemail = ["ops@example.com"]\n'
        '[labels]\nteam = "data"\n')
    job = load_job_file(path)
    assert job.name == "backup" and job.env == {"LEVEL": "full"}
    assert job.timeout == timedelta(hours=2)
    assert job_to_dict(job)["start_at"] == "2026-01-01T00:00:00Z"
    assert job_from_dict(job_to_dict(job)) == job


def test_load_job_file_prefers_the_name_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "file-stem.json"
    path.write_text(json.dumps({"name": "given", "schedule": "@daily", "command": "true"}))
    assert load_job_file(path).name == "given"


def test_load_job_file_refuses_a_stem_that_is_no_name(tmp_path: Path) -> None:
    path = tmp_path / "my job.json"
    path.write_text(json.dumps({"schedule": "@daily", "command": "true"}))
    with pytest.raises(ConfigError) as exc:
        load_job_file(path)
    assert exc.value.field == "name" and exc.value.file == str(path)


def test_load_job_file_tolerates_only_leading_comment_lines(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text('# file: j.json\n\n  # another\n{"schedule": "@daily", "command": "true"}\n')
    assert load_job_file(path).name == "j"
    path.write_text('{"schedule": "@daily",\n# inside\n"command": "true"}\n')
    with pytest.raises(ConfigError, match=r"not valid JSON.*line 2") as exc:
        load_job_file(path)
    assert exc.value.file == str(path)


@pytest.mark.parametrize(
    ("name", "text", "field", "problem"),
    [
        ("typo.toml", 'schedule = "@daily"\ncommand = "true"\nretires = 2\n', "retires",
         "unknown field"),
        ("types.json", '{"schedule": "@daily", "command": "true", "retries": "2"}', "retries",
         "expected an integer"),
        ("nested.toml", 'schedule = "@daily"\ncommand = "true"\n[notify]\nemail = ["x"]\n',
         "notify.email.0", "email address"),
        ("policy.json", '{"schedule": "@daily", "command": "true", "policy": {"roles": "x"}}',
         "policy.roles", "expected a list"),
        ("broken.toml", "schedule = ", None, "not valid TOML"),
        ("array.json", "[1, 2]", None, "JSON object"),
    ],
)
def test_load_job_file_error_names_file_field_and_problem(
    tmp_path: Path, name: str, text: str, field: str | None, problem: str,
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_job_file(path)
    assert exc.value.file == str(path) and exc.value.field == field
    assert str(path) in exc.value.message and problem in exc.value.message
    if field:
        assert f"{path}: {field}: " in exc.value.message


def test_load_job_file_refuses_other_file_types(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("schedule: '@daily'\n")
    with pytest.raises(ConfigError, match="unknown file type"):
        load_job_file(path)


def test_load_jobs_dir_names_every_bad_file(tmp_path: Path) -> None:
    (tmp_path / "a-good.toml").write_text('schedule = "@daily"\ncommand = "true"\n')
    (tmp_path / "b-bad.toml").write_text('schedule = "@daily"\n')
    (tmp_path / "c-bad.json").write_text("{")
    (tmp_path / "d-dup.json").write_text('{"name": "a-good", "schedule": "@daily", '
                                         '"command": "true"}')
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".#a-good.toml").write_text("ignored: an editor lock file")
    with pytest.raises(ConfigError) as exc:
        load_jobs_dir(tmp_path)
    message = exc.value.message
    assert "3 job file(s)" in message
    for name in ("b-bad.toml", "c-bad.json", "d-dup.json"):
        assert name in message
    assert "already defined" in message
    assert len(exc.value.errors) == 3  # type: ignore[attr-defined]
    assert exc.value.file == str(tmp_path)


def test_load_jobs_dir_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory") as exc:
        load_jobs_dir(tmp_path / "nope")
    assert exc.value.field == "jobs_dir"


def test_load_node_file_error_names_the_nested_field(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_text('{"connection_type": "ssh", "connection_options": '
                    '{"ssh_user": "u", "ssh_host": "h:notaport"}}')
    with pytest.raises(ConfigError) as exc:
        load_node_file(path)
    assert exc.value.field == "connection_options.ssh_host"
    assert str(path) in exc.value.message


def test_load_nodes_dir_refuses_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"name": "x"}')
    (tmp_path / "b.toml").write_text('name = "x"\n')
    with pytest.raises(ConfigError, match="already defined"):
        load_nodes_dir(tmp_path)


def body(name: str) -> dict:
    return json.loads((DATA / "distributed-cronjob" / name).read_text())


def test_job_from_distributed_cronjob_command_runs_through_the_shell() -> None:
    posted = body("post_command.json")
    job = job_from_distributed_cronjob(posted)
    assert job.type is JobType.COMMAND and job.command == "ls -la"
    assert job.schedule == "5 * * * *"
    assert is_distributed_cronjob_body(posted) and not is_distributed_cronjob_body({"a": 1})


def test_job_from_distributed_cronjob_derives_a_stable_name() -> None:
    posted = body("post_command.json")
    name = job_from_distributed_cronjob(posted).name
    assert name == distributed_cronjob_name(posted)
    assert name.startswith("job-") and len(name) == len("job-") + 12
    assert job_from_distributed_cronjob(dict(reversed(list(posted.items())))).name == name
    assert job_from_distributed_cronjob({**posted, "schedule": "6 * * * *"}).name != name


def test_job_from_distributed_cronjob_script_is_base64_content() -> None:
    job = job_from_distributed_cronjob(body("post_script.json"))
    assert job.name == "1" and job.type is JobType.SCRIPT
    assert job.script_bytes == b"#!/bin/sh\necho hello from a script\n"
    assert job.interpreter == ["/bin/sh"]


def test_job_from_distributed_cronjob_binary_runs_directly() -> None:
    content = base64.b64encode(b"\x7fELF...").decode()
    job = job_from_distributed_cronjob(
        {"executable": content, "schedule": "* * * * *", "type": "binary", "id": 7})
    assert job.name == "7" and job.type is JobType.BINARY and job.interpreter is None


def test_job_from_distributed_cronjob_takes_our_fields_too() -> None:
    job = job_from_distributed_cronjob(
        {"executable": "date", "schedule": "@hourly", "name": "clock", "retries": 3,
         "status": "scheduled"})
    assert job.name == "clock" and job.retries == 3


@pytest.mark.parametrize(
    ("posted", "field"),
    [
        (body("post_url.json"), "executable"),
        ({"executable": "ftp://host/file", "schedule": "@daily", "type": "binary"},
         "executable"),
        ({"executable": "!!not base64!!", "schedule": "@daily", "type": "script"}, "executable"),
        ({"executable": "", "schedule": "@daily"}, "executable"),
        ({"executable": ["ls"], "schedule": "@daily"}, "executable"),
        ({"schedule": "@daily", "type": "command"}, "executable"),
        ({"executable": "ls", "type": "command"}, "schedule"),
        ({"executable": "ls", "schedule": "@daily", "type": "jar"}, "type"),
        ({"executable": "ls", "schedule": "@daily", "id": "bad id"}, "id"),
        ({"executable": "ls", "schedule": "@daily", "id": "a", "name": "b"}, "id"),
        ({"executable": "ls", "schedule": "@daily", "bogus": 1}, "bogus"),
    ],
)
def test_job_from_distributed_cronjob_refusal_names_the_field(posted: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        job_from_distributed_cronjob(posted)
    assert exc.value.field == field
