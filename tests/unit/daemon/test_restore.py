"""`raftcron restore`: a backup becomes a data directory a new raft log applies on top of."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from raftcron.cli import main
from raftcron.daemon.restore import check_backup, prepare_data_dir
from raftcron.db.reader import ReadDb
from raftcron.db.sqlite import SCHEMA_VERSION, STATE_FILE
from raftcron.errors import RestoreError, SchemaVersionError
from raftcron.model.commands import encode
from raftcron.state.machine import StateMachine

AT = "2024-05-01T10:00:00Z"


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    """A backup of a copy that applied 7 entries (5 jobs with keys, a fire of 5 runs, a node)."""
    sm = StateMachine(tmp_path / "old.sqlite3")
    index = 0
    for i in range(5):
        index += 1
        sm.apply(index, encode("put_job", {"job": {"name": f"job{i}"}, "at": AT}, key=f"k{i}"))
    index += 1
    records = [{"run_id": f"r{i}", "job": f"job{i}", "slot": AT, "peer": "old:7100",
                "fired_at": AT} for i in range(5)]
    assert sm.apply(index, encode("fire", {"runs": records, "at": AT}))["ok"]
    index += 1
    node = {"name": "spare", "ssh_host": "127.0.0.1", "ssh_user": "nobody"}
    assert sm.apply(index, encode("put_node", {"node": node, "at": AT}))["ok"]
    out = tmp_path / "backup.sqlite3"
    sm.backup_to(out)
    sm.close()
    return out


def test_restore_resets_the_raft_index_so_a_new_log_applies(backup: Path,
                                                             tmp_path: Path) -> None:
    assert check_backup(backup) == 7
    data = tmp_path / "peer0"
    done = prepare_data_dir(backup, data)
    assert (done.backup_index, done.jobs, done.runs, done.nodes) == (7, 5, 5, 1)
    assert sorted(p.name for p in data.iterdir()) == [STATE_FILE]
    sm = StateMachine(data / STATE_FILE)
    try:
        assert sm.applied_index == 0
        # The new cluster's first entry is index 1: it must apply, not be skipped as old.
        result = sm.apply(1, encode("put_job", {"job": {"name": "new"}, "at": AT}, key="k0"))
        assert result["ok"] and not result.get("duplicate_index")
        read = ReadDb(data / STATE_FILE)
        names = [j["name"] for j in read.list_jobs()[0]]
        assert names == ["job0", "job1", "job2", "job3", "job4", "new"]
        assert len(read.list_runs()[0]) == 5 and read.get_node("spare") is not None
        read.close()
        # The old idempotency key "k0" was forgotten: the new put_job above was applied.
        assert [(key, idx) for key, idx, _ in sm.dump()["applied_keys"]] == [("k0", 1)]
    finally:
        sm.close()


def test_restore_refuses_a_used_data_dir_unless_forced(backup: Path, tmp_path: Path) -> None:
    data = tmp_path / "used"
    data.mkdir()
    for name in ("raft.journal", "raft.journal.meta", "raft.dump", STATE_FILE, "keep.txt"):
        (data / name).write_bytes(b"old")
    with pytest.raises(RestoreError, match=r"not empty.*--force"):
        prepare_data_dir(backup, data)
    assert (data / STATE_FILE).read_bytes() == b"old"  # nothing written
    prepare_data_dir(backup, data, force=True)
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt", STATE_FILE]
    assert check_backup(data / STATE_FILE) == 0


def test_restore_refuses_a_newer_schema(backup: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    shutil.copy(backup, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaVersionError, match=f"version {SCHEMA_VERSION + 1}, newer"):
        prepare_data_dir(newer, tmp_path / "peer")
    assert not (tmp_path / "peer").exists()


@pytest.mark.parametrize("content", [b"not a database at all\n" * 10, b""])
def test_restore_refuses_a_file_that_is_not_a_backup(content: bytes, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_bytes(content)
    with pytest.raises(RestoreError, match="not a raftcron backup"):
        prepare_data_dir(bogus, tmp_path / "peer")


def test_restore_refuses_another_sqlite_database(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(RestoreError, match="not a raftcron backup"):
        check_backup(other)


def test_restore_cli_reports_and_exits_2_on_bad_input(backup: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["restore", str(backup), "--data-dir", str(tmp_path / "a")]) == 0
    assert "restored 5 jobs, 1 nodes and 5 runs" in capsys.readouterr().out
    assert main(["restore", str(backup), "--data-dir", str(tmp_path / "a")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "missing"), "--data-dir", str(tmp_path / "b")]) == 2
    assert "cannot read the backup" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["restore", str(backup)])  # --data-dir is required
    assert exit_info.value.code == 2
