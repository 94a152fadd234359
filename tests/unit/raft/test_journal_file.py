"""The raft journal on a full disk (issue 12: a full disk must stop a peer loudly): a real
tmpfs filled up under pysyncobj's `FileJournal`. pysyncobj's own file dies of SIGBUS there
(the fault this guards against, shown so the test cannot pass by accident); with
`journal_file.install()` the process exits 70 with one line naming the journal and the error.
Needs root (a tmpfs mount), as the chaos tier does."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.faults.disk import Tmpfs

CHILD = r"""
import sys
from raftcron.raft import journal_file
if sys.argv[2] == "reserved":
    journal_file.install()
import pysyncobj.journal as pysyncobj_journal
journal = pysyncobj_journal.FileJournal(sys.argv[1])
print("opened", flush=True)
sys.stdin.readline()            # the test fills the disk now
for idx in range(1, 10_000):    # 64 kB entries: the file grows past the free space
    journal.add(b"x" * 65536, idx, 1)
print("never full", flush=True)
"""


@pytest.fixture
def full_disk(tmp_path: Path):
    disk = Tmpfs(tmp_path / "disk", size="2m")
    try:
        yield disk
    finally:
        disk.close()


def journal_on_full_disk(disk: Tmpfs, mode: str) -> subprocess.CompletedProcess:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(disk.path / f"journal-{mode}"),
                              mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "opened"
        disk.fill()
        out, err = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        disk.free()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def test_pysyncobj_journal_alone_dies_of_sigbus_on_a_full_disk(full_disk: Tmpfs) -> None:
    done = journal_on_full_disk(full_disk, "plain")
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stderr[-2000:])


def test_the_reserved_journal_exits_70_saying_why(full_disk: Tmpfs) -> None:
    done = journal_on_full_disk(full_disk, "reserved")
    assert done.returncode == 70, (done.returncode, done.stderr[-2000:])
    assert "never full" not in done.stdout
    assert "cannot write the raft journal" in done.stderr
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
