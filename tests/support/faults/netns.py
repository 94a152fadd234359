"""Peers in network namespaces, so a test can cut one off the network and heal it.

`Network(size)` makes, for one run: a bridge `rcb<id>` in the root namespace holding
`10.231.<k>.254/24` (so this process reaches every peer), and per peer a namespace
`rc-<id>-<n>` with a veth pair whose namespace end holds `10.231.<k>.<n + 1>/24` and whose
root end `rcv<id>h<n>` is a port of the bridge. `<id>` is random and `<k>` is claimed with an
exclusive lock file under /run, so parallel runs never share a name or a subnet. The
addresses exist only inside what the run itself made. `cut(n)` sets the root end down (the
peer reaches nobody and nobody reaches it); `heal(n)` sets it up again.

`NetCluster` is a `tests.support.cluster.Cluster` whose peers run under `ip netns exec` (which
execs, so the pid is the peer's own and signals reach it) and listen on their namespace's
address. `close()` of the network deletes the namespaces (and so the veth pairs), the bridge
and the lock; it is idempotent and never raises, so it belongs in a `finally`. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

from tests.support.cluster import Cluster, Peer

LOCKS = Path("/run/raftcron-chaos-subnets")
PREFIX = "10.231"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip args...`; CalledProcessError (with ip's message) when it fails and `check`."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, ["ip", *args], done.stdout,
                                            done.stderr)
    return done


class Network:
    """A bridge and `size` namespaces, one per peer (see the module docstring)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.id = secrets.token_hex(3)[:5]
        self.bridge = f"rcb{self.id}"
        self.namespaces = [f"rc-{self.id}-{n}" for n in range(size)]
        self.subnet, self._lock = self._claim_subnet()
        self.hosts = [f"{PREFIX}.{self.subnet}.{n + 1}" for n in range(size)]
        self._made: list[tuple[str, str]] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _claim_subnet() -> tuple[int, Path]:
        LOCKS.mkdir(parents=True, exist_ok=True)
        for k in secrets.SystemRandom().sample(range(1, 250), 249):
            lock = LOCKS / str(k)
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            return k, lock
        raise RuntimeError(f"no free {PREFIX}.k.0/24 subnet (locks in {LOCKS})")

    def veth(self, n: int) -> str:
        """The root end of peer n's veth pair (the one `cut` sets down)."""
        return f"rcv{self.id}h{n}"

    def _build(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self._made.append(("link", self.bridge))
        ip("addr", "add", f"{PREFIX}.{self.subnet}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for n, ns in enumerate(self.namespaces):
            ip("netns", "add", ns)
            self._made.append(("netns", ns))
            inner = f"rcv{self.id}p{n}"
            ip("link", "add", self.veth(n), "type", "veth", "peer", "name", inner)
            self._made.append(("link", self.veth(n)))
            ip("link", "set", inner, "netns", ns)
            ip("-n", ns, "addr", "add", f"{self.hosts[n]}/24", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("link", "set", self.veth(n), "master", self.bridge, "up")

    def cut(self, n: int) -> None:
        """Peer n loses the network: nothing reaches it, it reaches nothing."""
        ip("link", "set", self.veth(n), "down")

    def heal(self, n: int) -> None:
        ip("link", "set", self.veth(n), "up")

    def close(self) -> None:
        """Delete what was made, newest first; never raises (it runs in `finally`)."""
        for kind, name in reversed(self._made):
            with contextlib.suppress(Exception):
                ip(kind, "del", name, check=False)
        self._made.clear()
        with contextlib.suppress(OSError):
            self._lock.unlink()

    def leftovers(self) -> list[str]:
        """Names of this run's links and namespaces that still exist (after `close`: none)."""
        links = ip("-o", "link", "show", check=False).stdout
        spaces = ip("netns", "list", check=False).stdout
        return ([w for w in (self.bridge, *map(self.veth, range(self.size))) if w in links]
                + [ns for ns in self.namespaces if ns in spaces])


class NetPeer(Peer):
    """A peer in namespace `ns` listening on `host` (raft port and API port as usual)."""

    def __init__(self, cluster: Cluster, index: int, raft_port: int, host: str,
                 ns: str) -> None:
        super().__init__(cluster, index, raft_port)
        self.host = host
        self.ns = ns
        self.id = f"{host}:{raft_port}"
        self.api = f"http://{host}:{self.api_port}"

    def command(self) -> list[str]:
        args = super().command()
        # The base command listens on 127.0.0.1; here the peer listens on its own address.
        at = args.index("--api")
        args[at + 1] = f"{self.host}:{self.api_port}"
        return ["ip", "netns", "exec", self.ns, *args]


class NetCluster(Cluster):
    """A `Cluster` whose peers live in `network`'s namespaces (one network per cluster)."""

    def __init__(self, root: Path, network: Network, **kwargs: Any) -> None:
        super().__init__(root, network.size, **kwargs)
        self.network = network
        self.peers = [NetPeer(self, p.index, p.raft_port, network.hosts[p.index],
                              network.namespaces[p.index]) for p in self.peers]

    def cut(self, peer: Peer) -> None:
        self.network.cut(peer.index)

    def heal(self, peer: Peer) -> None:
        self.network.heal(peer.index)
