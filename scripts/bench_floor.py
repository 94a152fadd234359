"""The floor of the fire-lag workload: one plain process that spawns every run at its slot.

    python scripts/bench_floor.py OUT_DIR JOBS FIRST LAST

For each second FIRST..LAST it sleeps until the second, then starts JOBS runs of the stamp
command (`benchcluster.stamp_job`'s, one file per job under OUT_DIR) back to back with
`subprocess.Popen` (stdout and stderr to pipes, a new session, as a run gets), and reaps
them. No scheduling, no replication, no bookkeeping: what this machine takes to start that
many bash processes a second. `scripts/bench compare` runs it next to raftcron and Celery and
judges its stamps the same way, so each side's lag reads against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchcluster import stamp_job


def main() -> int:
    out, jobs, first, last = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(
        sys.argv[4])
    argvs = [stamp_job(out, f"fire-{i:04d}")["command"] for i in range(jobs)]
    base = dict(os.environ)
    for slot in range(first, last + 1):
        delay = slot - time.time()
        if delay > 0:
            time.sleep(delay)
        procs = []
        for i, argv in enumerate(argvs):
            env = {**base, "RAFTCRON_SCHEDULED_TS": str(slot),
                   "RAFTCRON_RUN_ID": f"floor-{slot}-{i}", "RAFTCRON_ATTEMPT": "1",
                   "RAFTCRON_PEER": "floor"}
            procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          start_new_session=True, env=env))
        for proc in procs:
            proc.communicate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
