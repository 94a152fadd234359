"""Validation of the dependency, pause and success-rule fields of a job (`model.job_rules`)."""

from __future__ import annotations

import pytest

from raftcron.errors import ValidationError
from raftcron.model import job_from_dict, job_to_dict
from raftcron.model.job_rules import MAX_LINE, output_matches

BASE = {"name": "j", "schedule": "* * * * *", "command": "true"}


def test_model_job_rules_defaults_and_round_trip() -> None:
    data = job_to_dict(job_from_dict(BASE))
    assert (data["after"], data["on_failure"], data["pause_after_failures"],
            data["success_exit_codes"], data["fail_if_output_matches"],
            data["expected_duration"]) == ([], [], None, [0], None, None)
    full = {**BASE, "after": ["a", "b"], "on_failure": ["alert"], "pause_after_failures": 3,
            "success_exit_codes": [3, 0], "fail_if_output_matches": "ERROR|FATAL",
            "expected_duration": "10m"}
    data = job_to_dict(job_from_dict(full))
    assert data["success_exit_codes"] == [0, 3] and data["expected_duration"] == "10m"
    assert job_to_dict(job_from_dict(data)) == data


@pytest.mark.parametrize("fields, field, words", [
    ({"after": ["j"]}, "after", "cannot depend on itself"),
    ({"after": "a"}, "after", "expected a list"),
    ({"on_failure": ["a", "a"]}, "on_failure.1", "listed twice"),
    ({"after": ["bad name"]}, "after.0", ""),
    ({"pause_after_failures": 0}, "pause_after_failures", ""),
    ({"success_exit_codes": []}, "success_exit_codes", "non-empty"),
    ({"success_exit_codes": [256]}, "success_exit_codes.0", ""),
    ({"success_exit_codes": [1, 1]}, "success_exit_codes", "twice"),
    ({"fail_if_output_matches": "("}, "fail_if_output_matches", "not a valid regular"),
    ({"fail_if_output_matches": "(a+)+$"}, "fail_if_output_matches", "nested repetition"),
    ({"fail_if_output_matches": "(a*)*"}, "fail_if_output_matches", "nested repetition"),
    ({"fail_if_output_matches": r"(x)\1"}, "fail_if_output_matches", "backreferences"),
    ({"fail_if_output_matches": "a*b*c*d*"}, "fail_if_output_matches", "4 unbounded"),
    ({"fail_if_output_matches": "x" * 513}, "fail_if_output_matches", ""),
    ({"expected_duration": "0s"}, "expected_duration", "longer than 0s"),
    ({"expected_duration": "31d"}, "expected_duration", ""),
])
def test_model_job_rules_refusals_name_the_field(fields, field, words) -> None:
    with pytest.raises(ValidationError) as exc:
        job_from_dict({**BASE, **fields})
    assert exc.value.field == field
    assert words in exc.value.message


def test_model_job_rules_output_is_matched_line_by_line_and_bounded() -> None:
    assert output_matches("^ERROR", "ok\nERROR x\n")
    assert not output_matches("^ERROR", "ok ERROR\n")
    assert not output_matches("TAIL$", "x" * MAX_LINE + "TAIL")
