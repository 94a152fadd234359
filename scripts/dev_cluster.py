"""Start a local three-peer cluster from configs/cluster.toml; stop it on Ctrl-C.

Every peer is a real `raftcron` process with its own data dir under ./dev-cluster-data. The
example jobs in configs/jobs.d/ are loaded by each peer's `--jobs-dir` (idempotent: the first
peer to see a leader proposes them, the others find them already there).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def api_of(peer: str, cfg: dict) -> str:
    host, port = peer.rsplit(":", 1)
    return f"http://{host}:{int(port) + 1000}"


def wait_ready(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "configs" / "cluster.toml"))
    parser.add_argument("--jobs-dir", default=str(ROOT / "configs" / "jobs.d"))
    parser.add_argument("--data", default=str(ROOT / "dev-cluster-data"))
    args = parser.parse_args()

    with open(args.config, "rb") as f:
        cfg = tomllib.load(f)
    peers: list[str] = cfg["peers"]
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    raftcron = str(Path(sys.executable).parent / "raftcron")
    for peer in peers:
        peer_dir = data / peer.replace(":", "_")
        peer_dir.mkdir(exist_ok=True)
        log = open(peer_dir / "raftcron.log", "ab")  # noqa: SIM115 - closed with the process
        cmd = [raftcron, "--config", args.config, "--peers", ",".join(peers), "--self", peer,
               "--data-dir", str(peer_dir), "--jobs-dir", args.jobs_dir]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))

    def stop(*_: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        deadline = time.monotonic() + 60
        for peer in peers:
            if not wait_ready(api_of(peer, cfg), deadline):
                print(f"peer {peer} did not become ready; see {data}/*/raftcron.log",
                      file=sys.stderr)
                stop()
                return 1
        print("raftcron dev cluster is up:")
        for peer in peers:
            print(f"  peer {peer}   API and dashboard: {api_of(peer, cfg)}/")
        with urllib.request.urlopen(api_of(peers[0], cfg) + "/jobs", timeout=5) as resp:
            names = [j["name"] for j in json.load(resp)["items"]]
        print(f"jobs: {', '.join(names) or '(loading...)'}")
        print(f"logs: {data}/*/raftcron.log   Ctrl-C stops every peer.")
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("a peer exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
