"""Benchmark (not a test): the cost of one SSH run, over a reused connection vs a fresh one.

Starts a real OpenSSH sshd on 127.0.0.1 (tests/support/sshd.py) and runs `true` through
`SshExecutor.run` N times with the pooled connection kept (the steady state), then N times
with a new connection each (the first run to a node, or after its connection died). As the
floor, the OpenSSH client runs `true` N times over one multiplexed connection (ControlMaster):
what sshd itself costs per session. Prints a markdown section (median and p90 per case);
`--write` stores it in docs/benchmarks.md.

    scripts/bench ssh [--runs 50] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the sshd helper lives with the tests (tests.support)
sys.path.insert(0, str(ROOT / "scripts"))

from benchdoc import publish  # noqa: E402

from raftcron.executor.base import RunSpec  # noqa: E402
from raftcron.executor.ssh import SshExecutor  # noqa: E402
from raftcron.model import Node, RunStatus  # noqa: E402
from tests.support.sshd import Sshd, make_node  # noqa: E402

SLOT = datetime(2024, 1, 1, tzinfo=UTC)


def spec(node: Node) -> RunSpec:
    return RunSpec(
        run_id=f"bench-{uuid.uuid4().hex[:12]}",
        job="bench",
        attempt=1,
        slot=SLOT,
        peer="127.0.0.1:7101",
        target=node,
        command=["true"],
    )


async def one_run(executor: SshExecutor, node: Node) -> float:
    start = time.perf_counter()
    out = await executor.run(spec(node))
    elapsed = time.perf_counter() - start
    if out.status != RunStatus.SUCCEEDED:
        raise SystemExit(f"run failed: {out.reason}")
    return elapsed


async def measure(server: Sshd, output_dir: Path, runs: int) -> dict[str, list[float]]:
    node = make_node(server, name="bench")
    reused = SshExecutor(output_dir)
    try:
        await one_run(reused, node)  # connect once; not counted
        warm = [await one_run(reused, node) for _ in range(runs)]
        assert reused.connects == 1
    finally:
        await reused.close()
    fresh: list[float] = []
    for _ in range(runs):
        executor = SshExecutor(output_dir)
        try:
            fresh.append(await one_run(executor, node))
        finally:
            await executor.close()
    return {"reused connection": warm, "fresh connection": fresh}


def openssh_mux(server: Sshd, control_dir: Path, runs: int) -> list[float]:
    """Seconds per `ssh ... true` over one multiplexed OpenSSH connection (the floor)."""
    base = [
        "ssh", "-i", str(server.client_key), "-p", str(server.port),
        "-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir / 'mux'}",
        "-o", "ControlPersist=60", "-o", "BatchMode=yes", f"{server.user}@{server.host}",
    ]  # fmt: skip
    subprocess.run([*base, "true"], check=True)  # opens the master connection; not counted
    times = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([*base, "true"], check=True)
            times.append(time.perf_counter() - start)
    finally:
        subprocess.run([*base[:-1], "-O", "exit", base[-1]], capture_output=True, check=False)
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raftcron-bench-ssh-") as tmp:
        server = Sshd.start(Path(tmp) / "sshd")
        try:
            results = asyncio.run(measure(server, Path(tmp) / "output", args.runs))
            results["OpenSSH client, multiplexed (floor)"] = openssh_mux(
                server, Path(tmp), args.runs
            )
        finally:
            server.stop()
    command = "scripts/bench ssh" + (f" --runs {args.runs}" if args.runs != 50 else "")
    lines = [
        "## SSH execution overhead",
        "",
        f"`{command}`: `SshExecutor.run` of `true` against a local OpenSSH sshd "
        f"(127.0.0.1), {args.runs} runs per case, one at a time. Wall time per run, "
        "from `run()` to its outcome (session open, process group set-up, exit, output files).",
        "",
        "| case | median | p90 |",
        "|---|---:|---:|",
    ]
    for case, values in results.items():
        lines.append(
            f"| {case} | {statistics.median(values) * 1000:.1f} ms | {p90(values) * 1000:.1f} ms |"
        )
    publish("ssh", "\n".join(lines), ["--write"] if args.write else [])


if __name__ == "__main__":
    main()
