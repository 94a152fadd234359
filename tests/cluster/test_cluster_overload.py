"""Under overload the API keeps answering (issue 12 item 9): a few hundred every-second jobs
on three real peers start more processes a second than this machine can start on time, while
`/status` and `GET /jobs/{name}` are sampled on every peer every ~100 ms.

The contract is "reads and /status answer within a second, whatever runs are due". The
machine running the suite is shared with other work (load averages of 10-20 on two cores
were seen), so the client timeout is twice that (`CLIENT_TIMEOUT`) and every request must
get its 200 within it: before the fix, with the spawns on the event loop, every peer had
answers of 2.3-4.5 s in each run of this test; after it, the slowest seen was 1.2 s at a
load average of 20. Answers over a second are counted in the report, not asserted on.
Every job's process appends its slot to a file of its own: no slot may run twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import file_slots, put_job, slot_line
from tests.support.wait import wait_until

JOBS = 400
#: Seconds of overload sampled.
WINDOW = 20
INTERVAL = 0.1
#: A request without a 200 within this is unanswered: the one-second contract, doubled for
#: a shared machine.
CLIENT_TIMEOUT = 2.0
#: The contract; reported only.
SLOW = 1.0


@dataclass
class Samples:
    peer: Peer
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lat = sorted(self.latencies)
        slow = sum(1 for x in lat if x > SLOW)
        top = f"{lat[len(lat) // 2] * 1000:.0f} ms p50, {lat[-1] * 1000:.0f} ms max" if lat else "-"
        return (f"peer {self.peer.index}: {len(lat)} answered ({top}), {slow} over {SLOW:g} s, "
                f"{len(self.failures)} unanswered {self.failures[:5]}")


def _sample(samples: Samples, names: list[str], stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        for path in ("/status", f"/jobs/{names[i % len(names)]}"):
            begin = time.monotonic()
            try:
                resp = samples.peer.get(path, timeout=CLIENT_TIMEOUT)
            except OSError as exc:  # a timeout or a refused connection
                samples.failures.append(f"{path}: {exc!r}")
                continue
            elapsed = time.monotonic() - begin
            if resp.status != 200:
                samples.failures.append(f"{path}: {resp.status}")
            else:
                samples.latencies.append(elapsed)
        i += 1
        stop.wait(INTERVAL)


def test_cluster_api_answers_while_hundreds_of_runs_a_second_start(tmp_path: Path) -> None:
    # Production raft timings: the quick test elections would turn a loaded box into
    # elections, which is another test.
    cluster = Cluster(tmp_path / "cluster", 3, test_timings=False)
    out = tmp_path / "stamps"
    out.mkdir()
    names = [f"load-{i:03d}" for i in range(JOBS)]
    try:
        cluster.start()
        leader = cluster.wait_for_leader(timeout=60)
        begin = int(time.time()) + 8 + JOBS // 50
        start_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(begin))

        def put(name: str) -> None:
            put_job(leader, name, {
                "schedule": "* * * * * *", "concurrency": "allow", "start_at": start_at,
                "command": ["bash", "-c", slot_line(out / name)],
            })

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(put, names))
        wait_until(lambda: time.time() >= begin + 2, begin + 10 - time.time(), "the load")
        stop = threading.Event()
        samples = [Samples(peer) for peer in cluster.peers]
        threads = [threading.Thread(target=_sample, args=(s, names, stop), daemon=True)
                   for s in samples]
        for t in threads:
            t.start()
        time.sleep(WINDOW)  # the measured window itself, not a wait for a condition
        stop.set()
        for t in threads:
            t.join(CLIENT_TIMEOUT * 2 + 5)
        report = "\n".join(s.summary() for s in samples)
        print(report)
        ran = {n: Counter(slot for slot, _ in file_slots(out / n)) for n in names}
        assert sum(len(c) for c in ran.values()) > 0, "nothing ran:\n" + report
        doubled = {n: [s for s, k in c.items() if k > 1] for n, c in ran.items()}
        assert not any(doubled.values()), {n: d for n, d in doubled.items() if d}
        for s in samples:
            assert s.latencies and not s.failures, report
    finally:
        cluster.close()
