"""Start a local three-peer cluster from configs/cluster.toml; stop it on Ctrl-C.

Every peer is a real `raftcron` process with its own data dir under ./dev-cluster-data. The
example jobs in configs/jobs.d/ are loaded by each peer's `--jobs-dir` (idempotent: the first
peer to see a leader proposes them, the others find them already there).

Once the peers are up it prints how to use `raftcron` against them (the exact PATH and
RAFTCRON_API lines), each peer's pid, and how to watch a failover: kill one peer, see another
lead, and `kill -USR1 <this script's pid>` to start every stopped peer again. A peer that exits
is reported and the others keep running; the script ends when every peer has exited, or on
Ctrl-C (which stops them all). Ports already taken (an earlier run still up, say) are named
before anything starts, with how to find what holds them.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
#: Seconds between two looks at the peers.
POLL = 0.5


def api_of(peer: str, cfg: dict) -> str:
    """The API base URL of `peer` (raft port + 1000, what configs/cluster.toml uses)."""
    host, port = peer.rsplit(":", 1)
    return f"http://{host}:{int(port) + 1000}"


def port_taken(host: str, port: int) -> bool:
    """True when `host:port` cannot be bound because something already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the peers bind
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def taken_ports(peers: list[str], cfg: dict) -> list[str]:
    """One line per port of the cluster that is already taken (raft and API of each peer)."""
    lines = []
    for peer in peers:
        host, port = peer.rsplit(":", 1)
        api = api_of(peer, cfg).rsplit(":", 1)[1]
        for what, number in (("raft", int(port)), ("API", int(api))):
            if port_taken(host, number):
                lines.append(f"  {host}:{number}  ({what} port of peer {peer})")
    return lines


def ports_message(lines: list[str]) -> str:
    ports = " ".join(f"-e :{line.split()[0].rsplit(':', 1)[1]}" for line in lines)
    return (
        "raftcron dev cluster: these ports are already in use:\n" + "\n".join(lines) + "\n"
        "Most likely a dev cluster from an earlier run is still up (stop it with Ctrl-C in "
        "its terminal, or kill its peers).\n"
        f"See what holds them:  ss -ltnp | grep {ports}\n")


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


def leader_of(urls: list[str]) -> str | None:
    """The leader's raft id as the first answering peer says, or None."""
    for url in urls:
        try:
            with urllib.request.urlopen(url + "/status", timeout=1) as resp:
                return json.load(resp).get("leader")
        except (OSError, ValueError):
            continue
    return None


class Peers:
    """The peer processes: start, restart the ones that exited, stop them all."""

    def __init__(self, args: argparse.Namespace, peers: list[str], data: Path) -> None:
        self.args = args
        self.peers = peers
        self.data = data
        self.raftcron = str(Path(sys.executable).parent / "raftcron")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.reported: set[str] = set()
        self._logs: list[IO[bytes]] = []

    def command(self, peer: str) -> list[str]:
        return [self.raftcron, "--config", self.args.config, "--peers", ",".join(self.peers),
                "--self", peer, "--data-dir", str(self.dir_of(peer)),
                "--jobs-dir", self.args.jobs_dir]

    def dir_of(self, peer: str) -> Path:
        return self.data / peer.replace(":", "_")

    def start(self, peer: str) -> None:
        self.dir_of(peer).mkdir(parents=True, exist_ok=True)
        log = open(self.dir_of(peer) / "raftcron.log", "ab")  # noqa: SIM115 - closed in stop
        self._logs.append(log)
        self.procs[peer] = subprocess.Popen(self.command(peer), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.reported.discard(peer)

    def exited(self) -> list[str]:
        return [p for p, proc in self.procs.items() if proc.poll() is not None]

    def restart_exited(self) -> list[str]:
        again = self.exited()
        for peer in again:
            self.start(peer)
        return again

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self._logs:
            log.close()


def banner(peers: Peers, cfg: dict) -> str:
    urls = [api_of(p, cfg) for p in peers.peers]
    bindir = Path(peers.raftcron).parent
    leader = leader_of(urls)
    lines = [f"raftcron dev cluster is up (this script's pid: {os.getpid()}):"]
    for peer in peers.peers:
        mark = "  leader" if peer == leader else ""
        lines.append(f"  peer {peer}  pid {peers.procs[peer].pid:<7}  API and dashboard: "
                     f"{api_of(peer, cfg)}/{mark}")
    victim = leader if leader in peers.procs else peers.peers[0]
    lines += [
        "",
        "Use the command line (in another shell):",
        f'  export PATH="{bindir}:$PATH"',
        f"  export RAFTCRON_API={','.join(urls)}",
        "  raftcron jobs list",
        f"or without the exports:  {bindir / 'raftcron'} --api {','.join(urls)} jobs list",
        "",
        "Watch a failover:",
        "  raftcron status                 # which peer leads",
        f"  kill {peers.procs[victim].pid:<26} # stop peer {victim}; the others keep running",
        "  raftcron status                 # another peer leads within a few seconds",
        f"  kill -USR1 {os.getpid():<21} # start every stopped peer again",
        "",
        f"logs: {peers.data}/*/raftcron.log   Ctrl-C stops every peer.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "cluster.toml"))
    parser.add_argument("--jobs-dir", default=str(ROOT / "configs" / "jobs.d"))
    parser.add_argument("--data", default=str(ROOT / "dev-cluster-data"))
    args = parser.parse_args(argv)

    with open(args.config, "rb") as f:
        cfg = tomllib.load(f)
    names: list[str] = cfg["peers"]
    busy = taken_ports(names, cfg)
    if busy:
        print(ports_message(busy), file=sys.stderr, end="")
        return 1
    peers = Peers(args, names, Path(args.data))
    restart = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: (peers.stop(), sys.exit(0)))
    signal.signal(signal.SIGUSR1, lambda *_: restart.update(asked=True))
    try:
        for peer in names:
            peers.start(peer)
        deadline = time.monotonic() + 60
        for peer in names:
            if not wait_ready(api_of(peer, cfg), deadline):
                print(f"peer {peer} did not become ready; see {args.data}/*/raftcron.log",
                      file=sys.stderr)
                return 1
        print(banner(peers, cfg), flush=True)
        return _watch(peers, restart)
    except KeyboardInterrupt:
        return 0
    finally:
        peers.stop()


def _watch(peers: Peers, restart: dict[str, bool]) -> int:
    """Report each peer that exits (the others keep running) and restart on SIGUSR1; return
    when every peer has exited."""
    while True:
        if restart["asked"]:
            restart["asked"] = False
            for peer in peers.restart_exited():
                print(f"peer {peer} started again (pid {peers.procs[peer].pid})", flush=True)
        for peer in peers.exited():
            if peer not in peers.reported:
                peers.reported.add(peer)
                code = peers.procs[peer].returncode
                how = f"signal {-code}" if code < 0 else f"status {code}"
                print(f"peer {peer} exited ({how}); the other peers keep running. "
                      f"`kill -USR1 {os.getpid()}` starts it again.", flush=True)
        if len(peers.exited()) == len(peers.peers):
            print("every peer has exited", file=sys.stderr)
            return 1
        time.sleep(POLL)


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
