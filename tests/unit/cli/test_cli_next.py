"""`raftcron next`: through `main([...])` and as a real process."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from raftcron.cli import main

RAFTCRON = Path(sys.executable).parent / "raftcron"


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["next", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_schedule_next_cmd_prints_fires_with_offsets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "30 2 * * *", "--tz", "America/New_York",
                              "--after", "2024-03-09T12:00:00-05:00", "--count", "3")
    assert code == 0 and err == ""
    assert out.splitlines() == ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00",
                                "2024-03-12T02:30:00-04:00"]


def test_schedule_next_cmd_default_count_is_five(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "*/10 * * * * *", "--after", "2024-01-01T00:00:00Z")
    assert code == 0
    assert out.splitlines() == [f"2024-01-01T00:00:{s:02d}+00:00" for s in (10, 20, 30, 40, 50)]


def test_schedule_next_cmd_shows_seconds_always(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_main(capsys, "@daily", "--after", "2024-01-01T00:00:00Z", "--count", "1")
    assert out == "2024-01-02T00:00:00+00:00\n"


def test_schedule_next_cmd_naive_after_is_wall_time_in_tz(
        capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_main(capsys, "0 */2 * * *", "--tz", "America/New_York",
                         "--after", "2024-03-10T00:00", "--count", "2")
    assert out.splitlines() == ["2024-03-10T04:00:00-04:00", "2024-03-10T06:00:00-04:00"]


def test_schedule_next_cmd_default_after_is_now(capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    code, out, _ = run_main(capsys, "* * * * * *", "--count", "2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    first = datetime.fromisoformat(lines[0])
    assert first > before


def test_schedule_next_cmd_name_seeds_hash(capsys: pytest.CaptureFixture[str]) -> None:
    _, a, _ = run_main(capsys, "H H * * *", "--name", "alpha", "--after", "2024-01-01T00:00:00Z")
    _, a2, _ = run_main(capsys, "H H * * *", "--name", "alpha", "--after", "2024-01-01T00:00:00Z")
    names = set()
    for i in range(10):
        _, out, _ = run_main(capsys, "H H * * *", "--name", f"job{i}",
                             "--after", "2024-01-01T00:00:00Z", "--count", "1")
        names.add(out)
    assert a == a2 and len(names) > 5


def test_schedule_next_cmd_one_shot_prints_fewer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "@at 2026-12-01T10:00:00Z", "--tz", "Europe/Berlin",
                            "--after", "2024-01-01T00:00:00Z")
    assert code == 0 and out == "2026-12-01T11:00:00+01:00\n"


def test_schedule_next_cmd_mapping_and_anchor(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_main(capsys, '{interval = "10m", reference = "03:10"}', "--count", "1",
                         "--after", "2024-01-01T00:01:00Z")
    assert out == "2024-01-01T00:10:00+00:00\n"
    _, out, _ = run_main(capsys, "@every 90s", "--anchor", "2024-01-01T00:00:05Z",
                         "--after", "2024-01-01T00:00:00Z", "--count", "2")
    assert out.splitlines() == ["2024-01-01T00:01:35+00:00", "2024-01-01T00:03:05+00:00"]


@pytest.mark.parametrize(("args", "word"), [
    (["61 * * * *"], "minute"),
    (["0 0 30 2 *"], "day-of-month"),
    (["@reboot"], "@reboot"),
    (["* * * * *", "--tz", "Mars/Base"], "tz"),
    (["* * * * *", "--count", "0"], "count"),
    (["* * * * *", "--count", "1001"], "count"),
    (["* * * * *", "--count", "two"], "count"),
    (["* * * * *", "--after", "yesterday"], "after"),
    (["* * * * *", "--anchor", "nope"], "anchor"),
])
def test_schedule_next_cmd_refuses_with_status_2(capsys: pytest.CaptureFixture[str],
                                                 args: list[str], word: str) -> None:
    code, out, err = run_main(capsys, *args)
    assert code == 2 and out == ""
    assert word in err and "Traceback" not in err


def test_schedule_next_cmd_count_limit_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "* * * * * *", "--after", "2024-01-01T00:00:00Z",
                            "--count", "1000")
    assert code == 0 and len(out.splitlines()) == 1000


def test_schedule_next_cmd_subprocess_prints_fires() -> None:
    proc = subprocess.run(
        [str(RAFTCRON), "next", "0 30 2 * * *", "--tz", "Europe/Berlin",
         "--after", "2024-03-30T12:00:00Z", "--count", "2"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["2024-03-31T03:00:00+02:00",
                                        "2024-04-01T02:30:00+02:00"]


def test_schedule_next_cmd_subprocess_invalid_expression_exits_2() -> None:
    proc = subprocess.run([str(RAFTCRON), "next", "5-1 * * * *"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "minute" in proc.stderr and "reversed" in proc.stderr
    assert "Traceback" not in proc.stderr
