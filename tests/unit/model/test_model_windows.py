"""Job fields for blackout windows, several schedules and queue_all: accepted forms, the
canonical form, refusals naming the field, the command version such a job needs, and the
cluster config's `[blackouts.NAME]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raftcron.config.cluster import load_cluster_config
from raftcron.errors import ConfigError, ValidationError
from raftcron.model import Concurrency, job_from_dict, job_to_dict
from raftcron.model.commands import version_of


def job(**fields: Any) -> dict[str, Any]:
    return {"name": "backup", "schedule": "0 3 * * *", "command": ["true"], **fields}


def test_model_windows_defaults_and_round_trip():
    j = job_from_dict(job())
    assert j.blackout == [] and j.queue_cap == 10
    d = job_to_dict(job_from_dict(job(
        schedule=["0 3 * * *", {"interval": "90m"}], blackout="* 0-6 * * sat,sun",
        concurrency="queue_all", queue_cap=3)))
    assert d["schedule"] == ["0 3 * * *", {"interval": "90m"}]
    assert d["blackout"] == ["* 0-6 * * sat,sun"] and d["queue_cap"] == 3
    assert d["concurrency"] == "queue_all"
    assert job_to_dict(job_from_dict(d)) == d
    assert job_from_dict(d).concurrency is Concurrency.QUEUE_ALL


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"schedule": []}, "schedule", "empty list"),
    ({"schedule": ["0 3 * * *", "0 25 * * *"]}, "schedule.1", "hour"),
    ({"schedule": ["0 3 * * *\n0 4 * * *"]}, "schedule.0", "line break"),
    ({"schedule": ["0 3 * * *", {"reference": "03:10"}]}, "schedule.1.interval", "interval"),
    ({"schedule": ["0 3 * * *", "0 3 * * *"] * 17}, "schedule", "at most 32"),
    ({"blackout": ["@every 1h"]}, "blackout.0", "cron expression"),
    ({"blackout": ["* * * * *", "{interval = \"1h\"}"]}, "blackout.1", "cron expression"),
    ({"blackout": ["* 0-6 * * sat,sun", "* 25 * * *"]}, "blackout.1", "hour"),
    ({"blackout": ["* * * * *", "* * * * *"]}, "blackout.1", "listed twice"),
    ({"blackout": [5]}, "blackout.0", ""),
    ({"blackout": ["* * * * *"], "tz": "Mars/Olympus"}, "tz", ""),
    ({"concurrency": "queue_some"}, "concurrency", "queue_all"),
    ({"queue_cap": 0}, "queue_cap", ""),
    ({"queue_cap": 1001}, "queue_cap", ""),
    ({"max_parallel": 0}, "max_parallel", ""),
    ({"max_parallel": "0%"}, "max_parallel", "percentage"),
    ({"max_parallel": "150%"}, "max_parallel", "percentage"),
    ({"max_parallel": 1.5}, "max_parallel", ""),
    ({"keep_going": "no"}, "keep_going", ""),
])
def test_model_windows_refusals_name_the_field(fields, field, words):
    with pytest.raises(ValidationError) as info:
        job_from_dict(job(**fields))
    assert info.value.field == field and words in str(info.value)


@pytest.mark.parametrize(("fields", "version"), [
    ({}, 1),
    ({"queue_cap": 5}, 1),
    ({"schedule": ["0 3 * * *", "0 4 * * *"]}, 4),
    ({"blackout": ["* 0-6 * * sat,sun"]}, 4),
    ({"concurrency": "queue_all"}, 4),
    ({"hosts": "all", "max_parallel": "25%"}, 4),
    ({"keep_going": False}, 4),
    ({"keep_going": True}, 1),
    ({"concurrency_group": "db"}, 4),
])
def test_model_windows_jobs_using_them_need_command_version_4(fields, version):
    d = job_to_dict(job_from_dict(job(**fields)))
    assert version_of("put_job", {"job": d, "at": "2024-01-01T00:00:00Z"}) == version
    batch = {"commands": [{"op": "put_job", "key": None, "args": {"job": d, "at": "x"}}]}
    assert version_of("batch", batch) == version


def test_config_concurrency_groups(tmp_path: Path):
    cfg = load_cluster_config(write(tmp_path, "[concurrency_groups]\ndb-heavy = 2\nab = 1\n"),
                              environ={})
    assert cfg.scheduler.concurrency_groups == (("ab", 1), ("db-heavy", 2))
    for text, field in (("[concurrency_groups]\ndb = 0\n", "concurrency_groups.db"),
                        ('[concurrency_groups]\ndb = "2"\n', "concurrency_groups.db")):
        with pytest.raises(ConfigError) as info:
            load_cluster_config(write(tmp_path, text), environ={})
        assert info.value.field == field


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_config_blackouts_are_read_sorted_by_name(tmp_path: Path):
    cfg = load_cluster_config(write(tmp_path, """
[blackouts.weekend]
schedule = "* 0-6 * * sat,sun"
tz = "Europe/Berlin"
[blackouts.backups]
schedule = "* 2 * * *"
"""), environ={})
    assert cfg.scheduler.blackouts == (("backups", "* 2 * * *", "UTC"),
                                       ("weekend", "* 0-6 * * sat,sun", "Europe/Berlin"))


@pytest.mark.parametrize(("text", "field"), [
    ('[blackouts.w]\ntz = "UTC"\n', "blackouts.w.schedule"),
    ('[blackouts.w]\nschedule = "@every 1h"\n', "blackouts.w.schedule"),
    ('[blackouts.w]\nschedule = "* 0 * * *"\ntz = "Nowhere/City"\n', "blackouts.w.tz"),
    ('[blackouts.w]\nschedule = "* 0 * * *"\nwhen = "now"\n', "blackouts.w.when"),
    ('[blackouts."bad name"]\nschedule = "* 0 * * *"\n', "blackouts.bad name"),
])
def test_config_blackouts_refusals_name_the_key(tmp_path: Path, text: str, field: str):
    with pytest.raises(ConfigError) as info:
        load_cluster_config(write(tmp_path, text), environ={})
    assert info.value.field == field
