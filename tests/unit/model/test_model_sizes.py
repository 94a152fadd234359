"""`output_limit`: a size in bytes or with a unit, bounded, and what it needs of the cluster."""

from __future__ import annotations

import pytest

from raftcron.errors import ValidationError
from raftcron.model import job_from_dict, job_to_dict
from raftcron.model.sizes import DEFAULT_OUTPUT_LIMIT, parse_size
from raftcron.model.window_commands import job_version

BASE = {"name": "j", "schedule": "* * * * *", "command": "true"}


@pytest.mark.parametrize("value, expected", [
    (None, None), (1024, 1024), ("2048", 2048), ("500KB", 500_000), ("10 MiB", 10 * 2**20),
    ("1gb", 10**9), ("1TiB", 2**40), ("4kib", 4096), ("1500b", 1500),
])
def test_model_output_limit_accepted_and_read_back_as_bytes(value, expected) -> None:
    data = job_to_dict(job_from_dict({**BASE, "output_limit": value}))
    assert data["output_limit"] == expected
    assert job_to_dict(job_from_dict(data)) == data
    assert job_version(data) == (1 if expected is None else 4)


@pytest.mark.parametrize("value, words", [
    (1023, "between"), ("1KB", "between"), ("2TiB", "between"), (0, "between"),
    (-5, "between"), ("10 MiBs", "expected a size"), ("ten", "expected a size"),
    ("1.5MiB", "expected a size"), (True, "expected an integer"), (1.0, "expected an integer"),
    ([1], "expected an integer"), ("", "expected a size"),
])
def test_model_output_limit_refusals_name_the_field(value, words) -> None:
    with pytest.raises(ValidationError) as err:
        job_from_dict({**BASE, "output_limit": value})
    assert err.value.field == "output_limit"
    assert words in str(err.value)


def test_parse_size_default_and_config_field() -> None:
    assert DEFAULT_OUTPUT_LIMIT == 100 * 2**20
    with pytest.raises(ValidationError) as err:
        parse_size("x", "scheduler.output_limit", minimum=1, maximum=10)
    assert err.value.field == "scheduler.output_limit"
