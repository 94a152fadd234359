"""The command line against real peers (issue 13): `--api` with a list of peers survives a
stopped peer, `jobs edit` goes through PATCH, `jobs run --wait` and `runs logs --follow`
follow a real run, `--json` prints JSON only, and exit statuses tell failures apart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from tests.support.cluster import Cluster
from tests.support.ports import free_port
from tests.support.wait import wait_until

TOKEN = "cli-test-token"


def cli(*args: str, api: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`python -m raftcron ARGS` with $RAFTCRON_API set to `api` and the token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAFTCRON_")}
    env.update(RAFTCRON_TOKEN=TOKEN, RAFTCRON_API=api)
    return subprocess.run([sys.executable, "-m", "raftcron", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_cli_against_a_real_cluster_with_a_peer_down(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(token=TOKEN).start()
    leader = cluster.wait_for_leader()
    dead = f"http://127.0.0.1:{free_port()}"
    # The first peer of the list does not answer: every command goes on to the next.
    api = ",".join([dead, *(p.api for p in cluster.peers)])

    done = cli("jobs", "add", "hello", "--schedule", "0 0 1 1 *", "--tz", "Asia/Tokyo",
               "--shell", "--", "echo out; echo err >&2; sleep 1; echo more", api=api)
    assert done.returncode == 0, done
    assert "created job hello" in done.stdout and "Asia/Tokyo" in done.stdout

    edited = cli("jobs", "edit", "hello", "--set", "retries=2", "--set", "env.LEVEL=full",
                 "--json", api=api)
    assert edited.returncode == 0, edited
    job = json.loads(edited.stdout)
    assert job["retries"] == 2 and job["env"] == {"LEVEL": "full"} and job["version"] == 2

    listed = cli("jobs", "list", api=api)
    assert listed.returncode == 0 and "Asia/Tokyo" in listed.stdout, listed

    ran = cli("jobs", "run", "hello", "--json", api=api)
    assert ran.returncode == 0, ran
    run_id = json.loads(ran.stdout)["id"]
    followed = cli("runs", "logs", run_id, "--follow", api=api)
    assert followed.returncode == 0, followed
    assert followed.stdout == "out\nmore\n" and "err\n" in followed.stderr
    assert f"run {run_id} succeeded" in followed.stderr

    failing = cli("jobs", "add", "fails", "--schedule", "0 0 1 1 *", "--shell", "--",
                  "echo broken >&2; exit 3", api=api)
    assert failing.returncode == 0, failing
    waited = cli("jobs", "run", "fails", "--wait", "--wait-timeout", "60", api=api)
    assert waited.returncode == 1, waited
    assert "failed (exit 3)" in waited.stdout and "None" not in waited.stdout
    assert "broken" in waited.stderr

    # Exit statuses a script can tell apart.
    assert cli("jobs", "show", "nope", api=api).returncode == 3
    assert cli("jobs", "add", "hello", "--schedule", "@hourly", "--", "true",
               api=api).returncode == 4
    assert cli("jobs", "edit", "hello", "--set", "retries=-1", api=api).returncode == 2

    # Stop the leader: the same list still reaches the cluster.
    leader.kill()
    cluster.wait_for_leader(exclude=[leader])
    again = cli("jobs", "edit", "hello", "--set", "retries=3", api=api)
    assert again.returncode == 0, again
    shown = cli("jobs", "show", "hello", "--json", api=api)
    assert shown.returncode == 0 and json.loads(shown.stdout)["retries"] == 3

    # No peer reachable at all: unavailable, nothing applied.
    gone = cli("jobs", "list", api=dead)
    assert gone.returncode == 6 and "cannot reach" in gone.stderr


def test_cli_write_to_a_frozen_peer_is_unknown_and_its_retry_applies_once(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(token=TOKEN).start()
    leader = cluster.wait_for_leader()
    frozen = cluster.followers(leader)[0]
    live = leader.api
    assert cli("jobs", "add", "frost", "--schedule", "0 0 1 1 *", "--", "true",
               api=live).returncode == 0
    version = json.loads(cli("jobs", "show", "frost", "--json", api=live).stdout)["version"]

    assert frozen.pid is not None
    os.kill(frozen.pid, signal.SIGSTOP)  # takes the request (the kernel does), answers nothing
    try:
        # Only the frozen peer: the write went out and no answer came: unknown, not failed.
        alone = cli("jobs", "edit", "frost", "--set", "description=one", "--http-timeout",
                    "1", api=frozen.api)
        assert alone.returncode == 7, alone
        assert "outcome unknown" in alone.stderr and "raftcron jobs show frost" in alone.stderr
        # The frozen peer first, then a live one: the retry carries the same key and succeeds.
        both = cli("jobs", "edit", "frost", "--set", "description=two", "--http-timeout", "1",
                   "--json", api=f"{frozen.api},{live}")
        assert both.returncode == 0, both
        assert json.loads(both.stdout)["description"] == "two"
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    # Thawed, the frozen peer handles the requests it held: the first edit applies now (its
    # outcome really was unknown), the second one is the same key again and applies nothing.
    wait_until(lambda: frozen.status()["applied_index"] >= leader.status()["commit_index"], 30,
               "the thawed peer to catch up")
    history = leader.get("/jobs/frost/history", token=TOKEN).json()["items"]
    described = [h for h in history if "description" in (h["changes"] or {})]
    assert [h["changes"]["description"]["to"] for h in described].count("two") == 1
    job = json.loads(cli("jobs", "show", "frost", "--json", api=live).stdout)
    assert version + 1 <= job["version"] <= version + 2  # "one" may apply after the thaw
