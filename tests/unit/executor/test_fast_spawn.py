"""fast_spawn starts what subprocess.Popen(start_new_session=True, close_fds=True, ...) would."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from raftcron.executor import fast_spawn
from raftcron.executor.process_group import spawn_leader
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(not fast_spawn.available(),
                                reason="needs Linux with glibc >= 2.34 (the CI machine has it)")


def _finish(proc: fast_spawn.SpawnedProcess) -> tuple[int, str, str]:
    """Wait for the child; its exit code and what it wrote."""
    chunks: dict[int, list[bytes]] = {1: [], 2: []}
    for which, pipe in ((1, proc.stdout), (2, proc.stderr)):
        while data := os.read(pipe.fileno(), 65536):
            chunks[which].append(data)
        pipe.close()
    _, status = os.waitpid(proc.pid, 0)
    return (os.waitstatus_to_exitcode(status), b"".join(chunks[1]).decode(),
            b"".join(chunks[2]).decode())


def _in_private_thread(fn):  # type: ignore[no-untyped-def]
    """Run `fn()` in a thread that has called `private_fs()` (as the spawner's does)."""
    out: dict[str, object] = {}

    def body() -> None:
        out["private"] = fast_spawn.private_fs()
        try:
            out["result"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc
    t = threading.Thread(target=body)
    t.start()
    t.join(30)
    assert out["private"] is True
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["result"]


def test_the_child_gets_a_new_session_devnull_stdin_only_its_own_fds_and_default_signals(
        tmp_path: Path) -> None:
    script = ("echo pid=$$ sid=$(ps -o sid= -p $$ | tr -d ' '); "
              "ls /proc/self/fd | tr '\\n' ' '; echo; "
              "cat; echo stdin-done; "
              "grep -E '^(SigIgn|SigBlk)' /proc/self/status; "
              "echo to-stderr >&2; exit 7")
    leak = os.open(tmp_path / "kept-open", os.O_CREAT | os.O_WRONLY)  # not CLOEXEC-free
    os.set_inheritable(leak, True)  # even an inheritable descriptor does not reach the child
    try:
        proc = fast_spawn.spawn(["bash", "-c", script], env={"PATH": os.environ["PATH"]})
        code, out, err = _finish(proc)
    finally:
        os.close(leak)
    lines = out.splitlines()
    assert code == 7
    assert lines[0] == f"pid={proc.pid} sid={proc.pid}"
    # ls's own descriptor for /proc/self/fd is 3; nothing of the parent's is there.
    assert lines[1].split() == ["0", "1", "2", "3"]
    assert lines[2] == "stdin-done"
    masks = dict(line.split(":\t") for line in lines[3:5])
    # No standard signal ignored (Python ignores SIGPIPE; the child must not) or blocked;
    # glibc keeps its own two real-time signals (32, 33) ignored in every child it starts.
    assert int(masks["SigIgn"], 16) & 0x7FFFFFFF == 0  # bit n-1: signal n
    assert int(masks["SigBlk"], 16) == 0
    assert err == "to-stderr\n"


def test_environment_and_working_directory(tmp_path: Path) -> None:
    proc = fast_spawn.spawn(["sh", "-c", "pwd; echo $ONLY"], cwd=str(tmp_path),
                            env={"PATH": "/usr/bin:/bin", "ONLY": "this"})
    code, out, _ = _finish(proc)
    assert (code, out) == (0, f"{tmp_path}\nthis\n")


def test_the_program_is_looked_up_in_the_childs_path(tmp_path: Path) -> None:
    tool = tmp_path / "only-here"
    tool.write_text("#!/bin/sh\necho found\n")
    tool.chmod(0o755)
    proc = fast_spawn.spawn(["only-here"], env={"PATH": f"/nonexistent:{tmp_path}"})
    assert _finish(proc)[:2] == (0, "found\n")
    # A remembered path that is gone is looked up again.
    tool.unlink()
    other = tmp_path / "b"
    other.mkdir()
    (other / "only-here").write_text("#!/bin/sh\necho moved\n")
    (other / "only-here").chmod(0o755)
    proc = fast_spawn.spawn(["only-here"], env={"PATH": f"{tmp_path}:{other}"})
    assert _finish(proc)[:2] == (0, "moved\n")


def _pipes() -> set[str]:
    """The pipes this process has open (`pipe:[inode]`). Descriptors other threads open and
    close meanwhile (a test's leftovers being collected) do not count: only pipes do, by
    inode, so a number reused for something else is not mistaken for a leak."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("pipe:"):
            out.add(target)
    return out


def test_a_missing_program_or_directory_raises_as_popen_does(tmp_path: Path) -> None:
    before = _pipes()
    with pytest.raises(FileNotFoundError):
        fast_spawn.spawn(["no-such-program-here"], env={"PATH": str(tmp_path)})
    with pytest.raises(FileNotFoundError) as info:
        fast_spawn.spawn(["true"], cwd=str(tmp_path / "gone"), env=dict(os.environ))
    assert info.value.filename == str(tmp_path / "gone")
    script = tmp_path / "not-executable"
    script.write_text("echo no\n")
    with pytest.raises(PermissionError):
        fast_spawn.spawn([str(script)], env={})
    # No pipe left behind: a leaked one stays; anyone else's closes again.
    wait_until(lambda: not (_pipes() - before), 5, "no pipe left open by the failed starts")


def test_the_umask_is_the_jobs_and_only_in_the_spawning_thread(tmp_path: Path) -> None:
    mine = os.umask(0o077)
    os.umask(mine)

    def start() -> tuple[int, str, str]:
        return _finish(fast_spawn.spawn(["sh", "-c", "umask"], env=dict(os.environ),
                                        umask=0o027))
    assert _in_private_thread(start)[1] == "0027\n"
    now = os.umask(mine)
    assert now == mine  # this thread's (the process's) umask never changed


def test_a_umask_without_a_private_thread_is_refused_and_popen_is_used_instead() -> None:
    if getattr(fast_spawn._local, "private", False):
        pytest.skip("this test thread already has a private fs")  # never: the main thread
    assert fast_spawn.can_spawn(umask=0o022) is False
    assert fast_spawn.can_spawn(user=1000) is False
    assert fast_spawn.can_spawn(env={}, cwd=None) is True
    with pytest.raises(RuntimeError):
        fast_spawn.spawn(["true"], umask=0o022)
    proc = spawn_leader(["sh", "-c", "umask"], umask=0o027, env=dict(os.environ))
    assert not isinstance(proc, fast_spawn.SpawnedProcess)
    assert proc.stdout is not None
    assert os.read(proc.stdout.fileno(), 100) == b"0027\n"
    proc.wait()  # type: ignore[attr-defined]


def test_spawn_leader_uses_it_in_a_private_thread_and_the_child_can_be_signalled() -> None:
    def start() -> object:
        return spawn_leader(["sleep", "30"], env=dict(os.environ), umask=0o022)
    proc = _in_private_thread(start)
    assert isinstance(proc, fast_spawn.SpawnedProcess)
    os.killpg(proc.pid, signal.SIGTERM)
    assert _finish(proc)[0] == -signal.SIGTERM
