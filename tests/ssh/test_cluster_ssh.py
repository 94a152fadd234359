"""SSH nodes in a real cluster (issue 5): three raftcron processes, a real OpenSSH sshd.

One cluster for the module. Its nodes come from every source a node can come from:
`[[nodes]]` in the config (web1 and web2 — two names for the same sshd, web2 without host key
checks —, `good`, and `bad`, whose port has nothing listening), distcrond's node files in
`--nodes-dir` (the seed's `node_remote.json`, pointed at the sshd, and `node_local.json`), and
the API. Jobs come from distcrond's job files in `--jobs-dir` and from the API. Every check
goes through the HTTP API; the remote processes are on this machine, so pid and temp files
can be looked at directly.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster, Peer
from tests.support.paths import DATA
from tests.support.ports import port_is_free
from tests.support.sshd import Sshd, find_sshd
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster  # and `ssh`, as every test of tests/ssh/

DISTCROND = DATA / "distcrond"
TERMINAL = ("succeeded", "failed", "timed_out", "lost", "skipped", "missed", "cancelled")
#: A schedule that does not come due during the test: these jobs run when asked to.
NEVER = "0 0 1 1 *"


@dataclass
class Env:
    cluster: Cluster
    sshd: Sshd
    down: Sshd  # keys and known_hosts for `bad`'s port; started only at the end
    root: Path

    def any_peer(self) -> Peer:
        return self.cluster.peers[0]

    def peer(self, peer_id: str) -> Peer:
        return next(p for p in self.cluster.peers if p.id == peer_id)


def _below_ephemeral_port() -> int:
    """A free port under the kernel's ephemeral range, so no outgoing connection takes it."""
    for _ in range(200):
        port = random.randrange(20000, 30000)
        if port_is_free(port):
            return port
    raise RuntimeError("no free port found for the unreachable node")


def _toml_node(name: str, server: Sshd, roles: list[str], **extra: Any) -> str:
    values: dict[str, Any] = {
        "name": name, "roles": roles, "connection_type": "ssh", "ssh_user": server.user,
        "ssh_host": server.host, "ssh_port": server.port,
        "ssh_private_key_file": str(server.client_key),
    }
    if not extra.get("insecure_no_host_key_check"):
        values["known_hosts"] = str(server.known_hosts)
    values.update(extra)
    # JSON scalars and arrays of strings are valid TOML values.
    return "[[nodes]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


def _start_sshd_on_its_port(server: Sshd, timeout: float = 20.0) -> None:
    """Start sshd on `server.port` (fixed: the node already points there), with the keys and
    known_hosts generated before."""
    binary = find_sshd()
    server._write_config(binary)
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen([binary, "-D", "-e", "-f", str(server.config_path)],
                                          stdout=subprocess.DEVNULL, stderr=log)
    if not server._wait_ready(timeout):
        server.stop()
        raise RuntimeError(f"sshd did not start on port {server.port}:\n{server.log()}")


def _distcrond_dirs(root: Path, sshd: Sshd) -> tuple[Path, Path]:
    """distcrond's node and job files as its README gives them (tests/data/distcrond), the
    remote node pointed at `sshd` (only user, host and key path differ), plus one job file in
    the same format that asks for `role1`."""
    nodes_dir, jobs_dir = root / "nodes.d", root / "jobs.d"
    nodes_dir.mkdir()
    jobs_dir.mkdir()
    remote = (DISTCROND / "nodes.d" / "node_remote.json").read_text()
    remote = (remote.replace('"mhelmich"', json.dumps(sshd.user))
              .replace("your.remote.host:22", f"{sshd.host}:{sshd.port}")
              .replace("/home/mhelmich/.ssh/id_rsa", str(sshd.client_key)))
    (nodes_dir / "node_remote.json").write_text(remote)
    for sub, name in (("nodes.d", "node_local.json"), ("jobs.d", "job1.json"),
                      ("jobs.d", "job2.json")):
        (root / sub / name).write_text((DISTCROND / sub / name).read_text())
    (jobs_dir / "on_node.json").write_text("# file: on_node.json\n" + json.dumps({
        "description": "runs on whichever node carries role1",
        "policy": {"hosts": "any", "roles": ["role1"]}, "schedule": "@every 2s",
        # A job runs on an SSH node as its ssh_user, and a root login must be asked for by
        # name (raftcron.model.privilege.ssh_refusal): these tests may run as root.
        "user": sshd.user,
        "command": ["/bin/sh", "-c", "echo on $RAFTCRON_TARGET"]}, indent=4))
    return nodes_dir, jobs_dir


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("cluster_ssh")
    sshd = Sshd.start(root / "sshd")
    down = Sshd(directory=root / "sshd_down", port=_below_ephemeral_port())
    cluster: Cluster | None = None
    try:
        down.directory.mkdir()
        down._generate_keys()
        down._write_known_hosts()
        nodes_dir, jobs_dir = _distcrond_dirs(root, sshd)
        # The seed's node names no known_hosts: the default, ~/.ssh/known_hosts, must know it.
        home = root / "home"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts.read_text())
        config = "".join([
            _toml_node("web1", sshd, ["ssh"]),
            _toml_node("web2", sshd, ["ssh"], insecure_no_host_key_check=True),
            _toml_node("good", sshd, ["flaky", "blocker"], capacity=1),
            _toml_node("bad", down, ["flaky"], connect_timeout="3s"),
        ])
        cluster = Cluster(root / "cluster", 3, config_text=config,
                          extra_args=["--jobs-dir", str(jobs_dir), "--nodes-dir", str(nodes_dir)],
                          peer_args={2: ["--roles", "edge"]})
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HOME", str(home))  # the peers' environment is copied at their start
            cluster.start()
        cluster.wait_for_leader()
        yield Env(cluster=cluster, sshd=sshd, down=down, root=root)
    finally:
        if cluster is not None:
            cluster.close()
        down.stop()
        sshd.stop()


@pytest.fixture
def env(shared: Env, request: pytest.FixtureRequest) -> Env:
    request.node._raftcron_clusters = [shared.cluster]  # peer logs on failure (tests/conftest.py)
    return shared


# --- helpers ----------------------------------------------------------------------------------


def _ok(resp: Any, *statuses: int) -> Any:
    assert resp.status in (statuses or (200,)), resp
    return resp.json()


def nodes_of(peer: Peer) -> dict[str, dict]:
    return {n["name"]: n for n in _ok(peer.get("/nodes"))["items"]}


def put_job(env: Env, name: str, spec: dict[str, Any]) -> dict:
    # As the node's ssh_user: a root login must be asked for by name (see on_node.json).
    body = {"schedule": NEVER, "user": env.sshd.user, **spec}

    def attempt() -> dict | None:
        resp = env.any_peer().put(f"/jobs/{name}", body)
        if resp.status >= 500:
            return None  # no leader for a moment: again
        return _ok(resp, 200, 201)
    return wait_until(attempt, 30, f"PUT /jobs/{name}")


def run_now(env: Env, name: str) -> dict:
    return _ok(env.any_peer().post(f"/jobs/{name}/run"), 202)


def finished(env: Env, run_id: str, timeout: float = 30.0) -> dict:
    def done() -> dict | None:
        run = _ok(env.any_peer().get(f"/runs/{run_id}"))
        return run if run["status"] in TERMINAL else None
    return wait_until(done, timeout, f"run {run_id} to finish")


def runs_of(env: Env, job: str) -> list[dict]:
    return _ok(env.any_peer().get(f"/runs?job={job}&limit=200"))["items"]


def executed(env: Env, job: str) -> list[dict]:
    """The runs of `job` that were placed somewhere (not skipped or missed slots)."""
    return [r for r in runs_of(env, job) if r["status"] not in ("skipped", "missed")]


def by_slot(runs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in runs:
        out[r["slot"]].append(r)
    return out


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (nothing may reap it in a container)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in text


# --- tests ------------------------------------------------------------------------------------


def test_cluster_ssh_nodes_and_seed_files_reach_every_peer(env: Env) -> None:
    expected = {"web1", "web2", "good", "bad", "node_remote", "node_local"}
    for peer in env.cluster.peers:
        wait_until(lambda p=peer: expected <= set(nodes_of(p)), 30, f"every node on {peer}")
    nodes = nodes_of(env.cluster.peers[1])
    expected_remote = {
        "kind": "node", "connection_type": "ssh", "roles": ["role1", "role2"],
        "ssh_user": env.sshd.user, "ssh_host": "127.0.0.1", "ssh_port": env.sshd.port,
        "ssh_private_key_file": str(env.sshd.client_key), "known_hosts": None, "healthy": True}
    remote = nodes["node_remote"]
    assert {k: remote[k] for k in expected_remote} == expected_remote
    local = nodes["node_local"]
    assert (local["connection_type"], local["roles"]) == ("local", ["role1", "role2"])
    assert nodes["web2"]["insecure_no_host_key_check"] is True
    assert nodes["good"]["capacity"] == 1
    # Peers are listed too, with the roles they were started with.
    edge = nodes[env.cluster.peers[2].id]
    assert (edge["kind"], edge["roles"]) == ("peer", ["edge"])

    job1 = _ok(env.cluster.peers[2].get("/jobs/job1"))
    assert job1["schedule"] == "@every 10m"
    assert (job1["hosts"], job1["roles"]) == ("any", ["web", "db"])
    assert job1["description"] == "Do something!"
    assert job1["owners"] == [{"name": "Martin Helmich",
                               "email_address": "kontakt@martin-helmich.de"}]
    assert job1["command"] == ["/bin/ls", "-l", "-a", "/tmp"]
    job2 = _ok(env.cluster.peers[1].get("/jobs/job2"))
    assert job2["schedule"] == {"interval": "10m", "reference": "03:10"}
    assert (job2["hosts"], job2["roles"]) == ("any", ["web", "db"])


def test_cluster_ssh_node_api_put_get_delete(env: Env) -> None:
    leader = env.cluster.wait_for_leader()
    follower = env.cluster.followers(leader)[0]
    body = {"roles": ["spare"], "connection_type": "ssh", "ssh_user": env.sshd.user,
            "ssh_host": "127.0.0.1", "ssh_port": env.sshd.port,
            "ssh_private_key_file": str(env.sshd.client_key),
            "known_hosts": str(env.sshd.known_hosts)}
    created = _ok(follower.put("/nodes/spare", body), 201)
    assert created["roles"] == ["spare"]
    got = wait_until(lambda: leader.get("/nodes/spare").status == 200
                     and leader.get("/nodes/spare").json(), 10, "spare on the leader")
    assert got["ssh_port"] == env.sshd.port
    bad = follower.put("/nodes/spare", {**body, "ssh_port": 70000})
    assert bad.status == 400 and bad.json()["field"] == "ssh_port"
    _ok(leader.delete("/nodes/spare"))
    wait_until(lambda: follower.get("/nodes/spare").status == 404, 10, "the delete to apply")


def test_cluster_ssh_distcrond_job_runs_on_the_ssh_node(env: Env) -> None:
    # Both seed nodes carry role1: the SSH node_remote and node_local ("local": the acting
    # peer itself, issue 5). Placement spreads the slots over both.
    def succeeded_on_both() -> dict[str, dict] | None:
        done = {r["target"]: r for r in runs_of(env, "on_node") if r["status"] == "succeeded"}
        return done if {"node_remote", "node_local"} <= set(done) else None
    runs = wait_until(succeeded_on_both, 40, "succeeded runs of on_node on both role1 nodes")
    _ok(env.any_peer().post("/jobs/on_node/pause"))
    for target in ("node_remote", "node_local"):
        assert runs[target]["stdout_tail"] == f"on {target}\n"
        assert runs[target]["peer"] in {p.id for p in env.cluster.peers}
    assert all(r["target"] in ("node_remote", "node_local") for r in executed(env, "on_node"))


def test_cluster_ssh_run_captures_output_and_raftcron_env(env: Env) -> None:
    put_job(env, "envjob", {"roles": ["ssh"], "command":
                            "echo out-marker; echo err-marker >&2; env | grep '^RAFTCRON_'"})
    run = finished(env, run_now(env, "envjob")["id"])
    assert (run["status"], run["exit_code"], run["stderr_tail"]) == (
        "succeeded", 0, "err-marker\n"), run
    assert run["target"] in ("web1", "web2")
    lines = set(run["stdout_tail"].splitlines())
    for line in ("out-marker", "RAFTCRON_JOB=envjob", f"RAFTCRON_RUN_ID={run['id']}",
                 "RAFTCRON_ATTEMPT=1", f"RAFTCRON_PEER={run['peer']}",
                 f"RAFTCRON_TARGET={run['target']}"):
        assert line in lines, (line, run["stdout_tail"])
    for name in ("RAFTCRON_SCHEDULED_AT", "RAFTCRON_SCHEDULED_TS"):
        assert any(x.startswith(f"{name}=") for x in lines), run["stdout_tail"]
    # The whole output lives on the executing peer; another peer proxies it.
    other = next(p for p in env.cluster.peers if p.id != run["peer"])
    output = _ok(other.get(f"/runs/{run['id']}/output"))
    assert output["stdout"] == run["stdout_tail"]
    assert output["stderr"] == "err-marker\n"


def test_cluster_ssh_failing_exit_status_is_failed(env: Env) -> None:
    put_job(env, "failjob", {"roles": ["ssh"], "command": "echo going down; exit 3"})
    run = finished(env, run_now(env, "failjob")["id"])
    assert (run["status"], run["exit_code"]) == ("failed", 3), run
    assert run["reason"] == "exit status 3"
    assert run["stdout_tail"] == "going down\n"


def test_cluster_ssh_timeout_kills_the_remote_tree(env: Env) -> None:
    pidfile = env.root / "timeout.pid"
    put_job(env, "slowjob", {"roles": ["ssh"], "timeout": "1s",
                             "command": f"sleep 300 & echo $! > {pidfile}; wait"})
    run = finished(env, run_now(env, "slowjob")["id"])
    assert (run["status"], run["exit_code"]) == ("timed_out", None), run
    assert run["reason"].startswith("timed out after 1s")
    pid = int(pidfile.read_text())
    wait_until(lambda: not alive(pid), 10, f"the remote child {pid} to be gone")


def test_cluster_ssh_fan_out_all_runs_once_per_node(env: Env) -> None:
    put_job(env, "fanout", {"roles": ["ssh"], "hosts": "all", "schedule": "*/2 * * * * *",
                            "command": "echo fan $RAFTCRON_TARGET"})

    def a_settled_slot() -> list[dict] | None:
        for runs in by_slot(executed(env, "fanout")).values():
            if len(runs) == 2 and all(r["status"] in TERMINAL for r in runs):
                return runs
        return None
    runs = wait_until(a_settled_slot, 40, "a slot of fanout with both runs finished")
    _ok(env.any_peer().delete("/jobs/fanout"))
    assert sorted(r["target"] for r in runs) == ["web1", "web2"]
    for r in runs:
        assert r["status"] == "succeeded", r
        assert r["stdout_tail"] == f"fan {r['target']}\n"
    # Never two runs of one slot on the same node (retries aside: this job has none).
    for slot_runs in by_slot(executed(env, "fanout")).values():
        assert sorted(r["target"] for r in slot_runs) in (["web1"], ["web2"], ["web1", "web2"])
    # web2 skips host key checks: the peer that drove it says so in /status and in its log.
    driver = env.peer(next(r["peer"] for r in runs if r["target"] == "web2"))
    ssh = driver.status()["ssh"]
    assert "web2" in ssh["insecure_nodes"]
    assert ssh["nodes"]["web2"]["insecure_no_host_key_check"] is True
    assert ssh["nodes"]["web2"]["healthy"] is True
    assert "host key NOT verified" in driver.log_path.read_text()


def test_cluster_ssh_script_and_binary_are_uploaded_run_and_removed(env: Env) -> None:
    script = '#!/bin/sh\necho "script on $RAFTCRON_TARGET"\necho "$0"\n'
    for kind, extra in (("script", {"interpreter": ["/bin/sh"]}), ("binary", {})):
        name = f"{kind}job"
        put_job(env, name, {"roles": ["ssh"], "type": kind,
                            "script": base64.b64encode(script.encode()).decode(), **extra})
        run = finished(env, run_now(env, name)["id"])
        assert run["status"] == "succeeded", run
        first, path = run["stdout_tail"].splitlines()
        assert first == f"script on {run['target']}"
        assert path.startswith("/") and path.endswith("/script")
        # The upload lived in a private temp dir on the target, removed after the run.
        assert not Path(path).parent.exists()
    # The content is capped (1 MiB once decoded): a bigger one is refused, naming the field.
    big = base64.b64encode(b"#" * (1024 * 1024 + 1)).decode()
    resp = env.any_peer().put("/jobs/hugejob", {"schedule": NEVER, "roles": ["ssh"],
                                                "type": "script", "script": big})
    assert resp.status == 400 and resp.json()["field"] == "script", resp


def test_cluster_ssh_unreachable_node_fails_retries_and_heals(env: Env) -> None:
    # Keep `good` busy so the first attempt goes to `bad` (least loaded), deterministically.
    put_job(env, "blocker", {"roles": ["blocker"], "command": "sleep 120", "timeout": "3m"})
    blocker = run_now(env, "blocker")
    assert blocker["target"] == "good"
    wait_until(lambda: _ok(env.any_peer().get(f"/runs/{blocker['id']}"))["status"] == "running",
               20, "the blocker to run")
    try:
        put_job(env, "flaky", {"roles": ["flaky"], "retries": 1, "retry_backoff": "1s",
                               "command": "echo flaky ok on $RAFTCRON_TARGET"})
        first = run_now(env, "flaky")
        assert first["target"] == "bad"
        failed = finished(env, first["id"])
        assert failed["status"] == "failed", failed
        assert "'bad'" in failed["reason"] and "connection refused" in failed["reason"]

        def retried() -> dict | None:
            later = [r for r in runs_of(env, "flaky") if r["attempt"] == 2]
            return later[0] if later and later[0]["status"] in TERMINAL else None
        retry = wait_until(retried, 30, "the retry of the failed run")
        assert retry["retry_of"] == first["id"]
        assert (retry["status"], retry["target"]) == ("succeeded", "good"), retry
        assert retry["stdout_tail"] == "flaky ok on good\n"
    finally:
        with contextlib.suppress(Exception):
            env.any_peer().post(f"/runs/{blocker['id']}/cancel")

    # Every peer's copy calls `bad` unhealthy, with the reason.
    for peer in env.cluster.peers:
        node = wait_until(lambda p=peer: (n := nodes_of(p)["bad"])["healthy"] is False and n,
                          20, f"bad unhealthy on {peer}")
        assert "'bad'" in node["health_reason"]
    assert nodes_of(env.any_peer())["good"]["healthy"] is True
    # While it is unhealthy, placement leaves `bad` out: new runs go to `good` only.
    for _ in range(3):
        assert run_now(env, "flaky")["target"] == "good"

    # Something answers on bad's port now: the leader's probes find it and record it healthy.
    _start_sshd_on_its_port(env.down)
    for peer in env.cluster.peers:
        wait_until(lambda p=peer: nodes_of(p)["bad"]["healthy"] is True, 90,
                   f"bad healthy again on {peer}")
    leader = env.cluster.wait_for_leader()
    assert leader.status()["node_prober"]["probes"] >= 1
    again = finished(env, run_now(env, "flaky")["id"])
    assert again["status"] == "succeeded", again
