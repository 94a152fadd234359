"""Concurrent writers: threads that PUT jobs through whichever peer is running, all through
the chaos, and remember every write the cluster acknowledged (a 2xx).

Each writer owns `names` job names and writes them in turn, each PUT carrying the writer's
next sequence number as `max_runs` (the jobs are paused; they never run). One writer per
name, writes in order: after any fault, a name's stored `max_runs` must be at least the
highest one acknowledged for it (an acknowledged write is never lost, nor overwritten by an
older one) and at most the highest one sent. A write that timed out or got a 5xx may or may
not have been applied; both are fine.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from tests.support.cluster import Cluster

PAUSE = 0.05  # between one writer's writes: a steady trickle, not a benchmark


@dataclass
class Tally:
    acked: dict[str, int] = field(default_factory=dict)   # name -> highest acked seq
    sent: dict[str, int] = field(default_factory=dict)    # name -> highest seq sent
    ok: int = 0
    failed: int = 0


class Writers:
    def __init__(self, cluster: Cluster, count: int = 3, names: int = 20,
                 seed: int = 0) -> None:
        self.cluster = cluster
        self.count = count
        self.names = names
        self.tally = Tally()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(w, seed + w),
                                          name=f"chaos-writer-{w}", daemon=True)
                         for w in range(count)]

    def start(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> Tally:
        """Stop and join every writer (each is at most one request, 5 s, from its check)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        return self.tally

    @staticmethod
    def body(seq: int) -> dict:
        return {"schedule": "0 0 1 1 *", "command": ["true"], "paused": True,
                "max_runs": seq}

    def _write(self, writer: int, seed: int) -> None:
        rng = random.Random(seed)
        seq = 0
        while not self._stop.is_set():
            seq += 1
            name = f"w{writer}-{seq % self.names}"
            peers = self.cluster.running()
            if not peers:
                self._stop.wait(PAUSE)
                continue
            with self._lock:
                self.tally.sent[name] = seq
            try:
                resp = rng.choice(peers).put(f"/jobs/{name}", self.body(seq), timeout=5)
                ok = 200 <= resp.status < 300
            except Exception:  # refused, reset, timed out: not acknowledged
                ok = False
            with self._lock:
                if ok:
                    self.tally.acked[name] = seq
                    self.tally.ok += 1
                else:
                    self.tally.failed += 1
            self._stop.wait(PAUSE)
