"""`checks.duration` remembers what it checked, within a bound, and answers exactly as
without the memo: same values, same errors (errors are never remembered)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from raftcron.errors import OutOfRangeError, ValidationError
from raftcron.model import checks


def test_duration_memo_answers_as_the_check_does() -> None:
    for text in ("90s", "1h30m", "500ms", "0s", " 5m "):
        first = checks.duration(text, "f")
        assert checks.duration(text, "f") == first == checks._checked_duration(
            text, "f", checks.MAX_DURATION)
    assert checks.duration("2h", "f", maximum=timedelta(days=1)) == timedelta(hours=2)
    with pytest.raises(OutOfRangeError) as caught:  # the same text, a smaller limit
        checks.duration("2h", "timeout", maximum=timedelta(hours=1))
    assert caught.value.field == "timeout"


def test_duration_memo_never_keeps_an_error() -> None:
    for _ in range(2):
        with pytest.raises(ValidationError) as caught:
            checks.duration("ninety", "retry_backoff")
        assert caught.value.field == "retry_backoff"


def test_duration_memo_is_bounded() -> None:
    for i in range(checks._DURATIONS_KEPT + 500):
        assert checks.duration(f"{i}s", "f") == timedelta(seconds=i)
    assert len(checks._DURATIONS) <= checks._DURATIONS_KEPT
