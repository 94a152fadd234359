"""`raftcron.client.Client` against a live API: every method, error mapping, write retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.client import AuthError, Client, NotFoundError
from raftcron.errors import (
    ConflictError,
    JobNotFoundError,
    NodeNotFoundError,
    RunNotFoundError,
    UnavailableError,
    ValidationError,
)
from tests.support.api import OTHER, TOKEN, LiveApi, fire_record, job_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path, token=TOKEN)
    yield live
    live.close()


@pytest.fixture
def client(api: LiveApi) -> Client:
    return api.client(token=TOKEN)


def test_client_job_lifecycle(api: LiveApi, client: Client) -> None:
    job = client.create_job(job_body("a"))
    assert job["name"] == "a" and job["version"] == 1
    assert client.last_index == api.state.applied_index
    assert client.get_job("a")["next_runs"][0] == "2030-01-01T01:00:00Z"
    job, created = client.put_job("a", {"schedule": "*/5 * * * *", "command": "true"})
    assert not created and job["version"] == 2
    job, created = client.put_job("b", job_body("b"))
    assert created
    assert [j["name"] for j in client.iter_jobs()] == ["a", "b"]
    assert client.list_jobs(limit=1)["next_cursor"]
    assert client.pause_job("a")["status"] == "paused"
    assert [j["name"] for j in client.iter_jobs(status="paused")] == ["a"]
    assert client.resume_job("a")["status"] == "scheduled"
    run = client.run_job("a")
    assert run["manual"] and run["job"] == "a"
    assert client.get_run(run["id"])["id"] == run["id"]
    assert [r["id"] for r in client.iter_runs(job="a")] == [run["id"]]
    assert client.cancel_run(run["id"])["cancel_requested"] is True
    assert client.delete_job("a") == {"name": "a", "deleted": True}
    with pytest.raises(JobNotFoundError) as err:
        client.get_job("a")
    assert err.value.name == "a"


def test_client_maps_errors_to_raftcron_types(api: LiveApi, client: Client) -> None:
    client.create_job(job_body("a"))
    with pytest.raises(ConflictError) as conflict:
        client.create_job(job_body("a"))
    assert conflict.value.field == "name"
    with pytest.raises(ValidationError) as bad:
        client.create_job(job_body("c", schedule="0 25 * * *"))
    assert bad.value.field == "hour" and "hour" in bad.value.message
    with pytest.raises(RunNotFoundError):
        client.get_run("nope")
    with pytest.raises(NodeNotFoundError):
        client.get_node("nope")
    with pytest.raises(JobNotFoundError):
        client.pause_job("nope")
    with pytest.raises(AuthError):
        Client(api.url, token="wrong").create_job(job_body("d"))
    with pytest.raises(NotFoundError):
        client.request("GET", "/no/such/route")
    with pytest.raises(UnavailableError):
        client.list_jobs(min_index=99, timeout=0.1)


def test_client_cluster_reads(api: LiveApi, client: Client) -> None:
    assert client.status()["leader"] == api.node.self_id
    assert client.healthz()["ok"] is True
    assert client.readyz()["ready"] is True
    assert "raftcron_raft_term 1.0" in client.metrics().splitlines()
    assert "/jobs" in client.openapi()["paths"]
    names = [n["name"] for n in client.list_nodes()["items"]]
    assert OTHER in names
    node, created = client.put_node("db1", {"connection_type": "ssh", "ssh_host": "db1",
                                            "ssh_user": "cron"})
    assert created and node["name"] == "db1"
    assert client.get_node("db1")["ssh_host"] == "db1"
    assert client.delete_node("db1")["deleted"] is True


def test_client_run_output(api: LiveApi, client: Client) -> None:
    client.create_job(job_body("a"))
    api.apply("fire", {"runs": [fire_record("a", "2030-01-01T01:00:00Z", run_id="r1")],
                       "at": "2030-01-01T01:00:00Z"})
    (api.root / "output").mkdir()
    (api.root / "output" / "r1.stdout").write_text("hello\n")
    assert client.run_output("r1") == {"stdout": "hello\n", "stderr": ""}
    assert client.run_output("r1", stream="stdout") == "hello\n"
    with pytest.raises(RunNotFoundError):
        client.run_output("r9")


def test_client_retries_writes_with_the_same_key(api: LiveApi, client: Client) -> None:
    api.node.fail_next = 2
    api.node.fail_after_apply = True  # the first try was applied, its answer lost
    job = client.create_job(job_body("a"))
    assert job["name"] == "a" and job["version"] == 1
    keys = {key for _, _, key in api.node.proposed}
    assert len(api.node.proposed) == 3 and len(keys) == 1 and None not in keys
    assert [j["name"] for j in client.iter_jobs()] == ["a"]


def test_client_gives_up_after_bounded_retries(api: LiveApi) -> None:
    api.node.unavailable = True
    client = Client(api.url, token=TOKEN, write_attempts=2)
    with pytest.raises(UnavailableError):
        client.create_job(job_body("a"))
    assert len(api.node.proposed) == 2


def test_client_unreachable_server_is_unavailable() -> None:
    client = Client("http://127.0.0.1:9", write_attempts=1, timeout=2)
    with pytest.raises(UnavailableError) as err:
        client.status()
    assert "cannot reach" in err.value.message
    with pytest.raises(UnavailableError):
        client.create_job(job_body("a"))
