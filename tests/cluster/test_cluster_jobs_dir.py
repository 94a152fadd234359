"""Issue 12 item 12: jobs from `--jobs-dir` are file-managed, never silently reverted (real
processes): the API cannot replace or delete them (409 naming the file), a pause survives a
restart, an edited file updates the job and keeps the pause, a file takes over a job made
through the API (WARNING), and a job whose file is gone is released to the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cluster import Cluster, Peer
from tests.support.wait import wait_until

NIGHTLY = 'schedule = "@every 1h"\ncommand = "true"\n'


def _ok(resp: Any, *statuses: int) -> Any:
    assert resp.status in (statuses or (200,)), resp
    return resp.json()


def _seedings(peer: Peer) -> int:
    return peer.log_path.read_text(errors="replace").count("seeded from files:")


def _restart(peer: Peer) -> None:
    """Stop and start `peer`, and wait until it has seeded from its files again."""
    before = _seedings(peer)
    peer.stop()
    peer.start()
    wait_until(lambda: _seedings(peer) > before, 40, f"{peer} to seed again")


def _job(peer: Peer, name: str) -> dict:
    return _ok(peer.get(f"/jobs/{name}"))


def test_cluster_jobs_dir_jobs_are_file_managed_and_never_silently_reverted(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs.d"
    jobs_dir.mkdir()
    (jobs_dir / "nightly.toml").write_text(NIGHTLY)
    cluster = make_cluster(3, extra_args=["--jobs-dir", str(jobs_dir)]).start()
    leader = cluster.wait_for_leader()
    for peer in cluster.peers:
        wait_until(lambda p=peer: _job(p, "nightly")["managed_by"] == "file:nightly.toml", 30,
                   f"nightly from its file on {peer}")
    version = _job(leader, "nightly")["version"]

    # Definitional writes through the API: refused, naming the file; nothing written.
    asker = cluster.followers(leader)[0]
    # With an Idempotency-Key the API skips its own check: the state refuses it alike.
    edit = {"schedule": "@every 1m", "command": "false"}
    for resp in (asker.put("/jobs/nightly", edit),
                 asker.put("/jobs/nightly", edit, headers={"Idempotency-Key": "edit-nightly"}),
                 asker.delete("/jobs/nightly"),
                 leader.delete("/jobs/nightly", headers={"Idempotency-Key": "rm-nightly"})):
        assert resp.status == 409, resp
        body = resp.json()
        assert body["field"] == "name" and "nightly.toml" in body["error"], body
        assert "--jobs-dir" in body["error"]
    assert _job(leader, "nightly")["version"] == version
    assert _job(leader, "nightly")["schedule"] == "@every 1h"

    # Operational ones: allowed.
    _ok(asker.post("/jobs/nightly/run"), 202)
    paused = _ok(asker.post("/jobs/nightly/pause"))
    assert paused["status"] == "paused" and paused["managed_by"] == "file:nightly.toml"
    _ok(leader.put("/jobs/adhoc", {"schedule": "@every 1h", "command": "true"}), 201)

    # Restart with the same files: the pause is not reverted, nothing is written.
    restarted = cluster.peers[1]
    _restart(restarted)
    job = _job(restarted, "nightly")
    assert (job["status"], job["paused"], job["version"]) == ("paused", True, paused["version"])

    # An edited file updates the job, still paused; a new file takes over the API's job.
    (jobs_dir / "nightly.toml").write_text(NIGHTLY + "retries = 2\n")
    (jobs_dir / "adhoc.toml").write_text('schedule = "@every 2h"\ncommand = "true"\n')
    _restart(restarted)
    job = _job(restarted, "nightly")
    assert (job["retries"], job["status"], job["managed_by"]) == (
        2, "paused", "file:nightly.toml")
    adhoc = _job(restarted, "adhoc")
    assert (adhoc["schedule"], adhoc["managed_by"]) == ("@every 2h", "file:adhoc.toml")
    log = restarted.log_path.read_text(errors="replace")
    assert any("WARNING" in line and "adhoc" in line and "made through the API" in line
               for line in log.splitlines()), restarted.log_tail()

    # A file removed: its job is released, not deleted, and the API may delete it then.
    (jobs_dir / "nightly.toml").unlink()
    _restart(restarted)
    job = _job(restarted, "nightly")
    assert (job["managed_by"], job["status"]) == (None, "paused")
    _ok(restarted.delete("/jobs/nightly"))
    assert restarted.get("/jobs/nightly").status == 404
    assert _job(restarted, "adhoc")["managed_by"] == "file:adhoc.toml"
