"""What a user of the cluster sees while a benchmark loads it: not a test.

`ApiProbe(peers)` samples `GET /status` on every peer every `interval` seconds from a thread
per peer (client timeout `timeout`), and the peak resident memory of each peer's process,
until `stop()`; `summary()` is one line: samples, p50, max, how many took over a second or
got no answer, and the peak RSS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SLOW = 1.0


def rss_mb(pid: int | None) -> float:
    """Resident memory of `pid` in MB (0 when gone)."""
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ApiProbe:
    def __init__(self, peers: Sequence[Any], *, interval: float = 0.1,
                 timeout: float = 5.0) -> None:
        self.peers = list(peers)
        self.interval = interval
        self.timeout = timeout
        self.latencies: list[float] = []
        self.unanswered = 0
        self.rss_peak = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample, args=(p,), daemon=True)
                         for p in self.peers]
        for t in self._threads:
            t.start()

    def _sample(self, peer: Any) -> None:
        while not self._stop.is_set():
            begin = time.monotonic()
            try:
                ok = peer.get("/status", timeout=self.timeout).status == 200
            except OSError:
                ok = False
            elapsed = time.monotonic() - begin
            rss = rss_mb(peer.pid)
            with self._lock:
                if ok:
                    self.latencies.append(elapsed)
                else:
                    self.unanswered += 1
                self.rss_peak = max(self.rss_peak, rss)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 1)

    def summary(self) -> str:
        lat = sorted(self.latencies)
        if not lat:
            return f"/status: no answer ({self.unanswered} unanswered)"
        slow = sum(1 for x in lat if x > SLOW)
        return (f"/status on every peer every {self.interval * 1000:.0f} ms: {len(lat)} answered, "
                f"p50 {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms, "
                f"{slow} over {SLOW:g} s, {self.unanswered} unanswered within "
                f"{self.timeout:g} s; peak RSS of a peer {self.rss_peak:.0f} MB")
