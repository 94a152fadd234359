"""Several schedules as one (`schedule.union`): the union of their slots, each slot once."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from raftcron.errors import InvalidScheduleError
from raftcron.schedule import parse

T = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def fires(expr, n=6, tz="UTC", name=""):
    return [f.astimezone(UTC).strftime("%a %H:%M")
            for f in islice(parse(expr, tz=tz, name=name).iter_after(T), n)]


@pytest.mark.parametrize(("exprs", "expected"), [
    (["0 * * * *", "30 * * * *"], ["Mon 00:30", "Mon 01:00", "Mon 01:30", "Mon 02:00",
                                   "Mon 02:30", "Mon 03:00"]),
    # A shared instant is one slot: every hour and every two hours fire at 02:00 once.
    (["0 * * * *", "0 */2 * * *"], ["Mon 01:00", "Mon 02:00", "Mon 03:00", "Mon 04:00",
                                    "Mon 05:00", "Mon 06:00"]),
    (["0 9 * * mon-fri", "0 12 * * sat,sun"], ["Mon 09:00", "Tue 09:00", "Wed 09:00",
                                                "Thu 09:00", "Fri 09:00", "Sat 12:00"]),
    (["@at 2024-01-01T05:00:00Z", "0 3 * * *"], ["Mon 03:00", "Mon 05:00", "Tue 03:00",
                                                  "Wed 03:00", "Thu 03:00", "Fri 03:00"]),
    ([{"interval": "90m"}, "@daily"], ["Mon 01:30", "Mon 03:00", "Mon 04:30", "Mon 06:00",
                                       "Mon 07:30", "Mon 09:00"]),
])
def test_schedule_union_fires_at_every_part_each_instant_once(exprs, expected):
    assert fires(exprs) == expected


def test_schedule_union_expanded_text_parses_back_to_the_same_union():
    s = parse(["H * * * *", "0 */6 * * *"], name="backup")
    assert s.kind == "union" and "\n" in s.expanded
    assert s.source == ["H * * * *", "0 */6 * * *"]
    again = parse(s.expanded)
    assert list(islice(again.iter_after(T), 20)) == list(islice(s.iter_after(T), 20))


def test_schedule_union_of_one_is_that_schedule():
    assert parse(["*/5 * * * *"]).kind == "cron"
    assert fires(["*/5 * * * *"]) == fires("*/5 * * * *")


def test_schedule_union_one_shots_only_is_one_shot():
    assert parse(["@at 2024-01-01T05:00:00Z", "@at 2024-01-02T05:00:00Z"]).one_shot
    assert not parse(["@at 2024-01-01T05:00:00Z", "@daily"]).one_shot


def test_schedule_union_in_a_zone_reads_every_part_there():
    assert fires(["0 9 * * *", "0 18 * * *"], n=2, tz="Europe/Berlin") == ["Mon 08:00",
                                                                           "Mon 17:00"]


@pytest.mark.parametrize(("exprs", "field", "words"), [
    ([], "schedule", "empty list"),
    (["0 * * * *", "61 * * * *"], "schedule.1", "minute"),
    (["0 * * * *", 5], "schedule.1", "expected a cron expression"),
    (["0 * * * *"] * 33, "schedule", "at most 32"),
    (["0 * * * *\n5 * * * *", "1 * * * *"], "schedule.0", "line break"),
])
def test_schedule_union_refusals_name_the_part(exprs, field, words):
    with pytest.raises(InvalidScheduleError) as info:
        parse(exprs)
    assert info.value.field == field and words in str(info.value)


def test_schedule_stray_newline_is_still_a_control_character():
    with pytest.raises(InvalidScheduleError, match="control character"):
        parse("0 0 * * *\n")
