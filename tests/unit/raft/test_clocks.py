"""The clock offset estimator and the "is my clock with the majority" decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raftcron.clock import FakeClock, MajorityClock
from raftcron.config.tuning import RaftTuning
from raftcron.errors import ConfigError
from raftcron.raft.clocks import OffsetEstimator, judge, ntp_sample


def test_ntp_sample_cancels_the_round_trip_and_the_hold_time() -> None:
    # The far clock is 30 s ahead; 10 ms each way; the echo waited 0.4 s over there.
    t1 = 100.0
    t2 = t1 + 0.010 + 30.0
    t3 = t2 + 0.4
    t4 = t3 - 30.0 + 0.010
    offset, delay = ntp_sample(t1, t2, t3, t4)
    assert offset == pytest.approx(30.0)
    assert delay == pytest.approx(0.020)


def test_ntp_sample_asymmetric_paths_err_by_half_the_difference() -> None:
    offset, delay = ntp_sample(0.0, 0.030, 0.030, 0.040)  # 30 ms there, 10 ms back, in sync
    assert offset == pytest.approx(0.010)
    assert delay == pytest.approx(0.040)


def test_estimator_prefers_the_least_delayed_fresh_ntp_sample() -> None:
    est = OffsetEstimator(ttl=10.0)
    assert est.estimate(0.0) is None
    est.add_one_way(sent=130.0, received=100.001, at=0.0)
    assert est.estimate(0.0) == pytest.approx(29.999)
    # A slow exchange (0.5 s delay) and a quick one (2 ms): the quick one is believed.
    est.add_ntp(100.0, 130.25, 130.3, 100.55, at=1.0)
    est.add_ntp(101.0, 131.001, 131.002, 101.003, at=2.0)
    assert est.estimate(2.0) == pytest.approx(30.0, abs=0.002)


def test_estimator_forgets_stale_samples() -> None:
    est = OffsetEstimator(ttl=10.0)
    est.add_ntp(0.0, 5.0, 5.0, 0.0, at=0.0)
    assert est.estimate(10.0) == pytest.approx(5.0)
    assert est.estimate(10.5) is None
    est.add_one_way(sent=3.0, received=0.0, at=11.0)
    assert est.estimate(12.0) == pytest.approx(3.0)


def test_estimator_ignores_non_finite_times() -> None:
    est = OffsetEstimator()
    est.add_ntp(0.0, float("nan"), 0.0, 0.0, at=0.0)
    est.add_one_way(float("inf"), 0.0, at=0.0)
    assert est.estimate(0.0) is None


# (offsets of the other peers, members, threshold) -> (ok, outvoted, offset or None)
CASES = [
    # A single peer is its own majority.
    ({}, 1, 1.0, True, False, None),
    # Three peers in step.
    ({"b": 0.01, "c": -0.02}, 3, 1.0, True, False, 0.0),
    # This peer runs 30 s ahead: both others read -30 from here and agree with each other.
    ({"b": -30.0, "c": -30.01}, 3, 1.0, False, True, 30.0),
    # Another peer runs 30 s ahead: this one and the third are a majority.
    ({"a": 30.0, "c": 0.0}, 3, 1.0, True, False, 0.0),
    # Only one other measured, 30 s away: unsure, neither fires nor is outvoted.
    ({"b": -30.0, "c": None}, 3, 1.0, False, False, 15.0),
    # Nothing measured yet in a cluster of three: unsure.
    ({"b": None, "c": None}, 3, 1.0, False, False, None),
    # One other measured and in step: this peer and it are a majority of three.
    ({"b": 0.2, "c": None}, 3, 1.0, True, False, -0.1),
    # All three disagree: nobody may fire, nobody is outvoted (elections go on).
    ({"b": 10.0, "c": 20.0}, 3, 1.0, False, False, -10.0),
    # Within the threshold is in step; just past it is not.
    ({"b": -0.9, "c": -0.95}, 3, 1.0, True, False, 0.9),
    ({"b": -1.5, "c": -1.6}, 3, 1.0, False, True, 1.5),
    # A larger threshold tolerates more.
    ({"b": -1.5, "c": -1.6}, 3, 2.0, True, False, 1.5),
    # Five peers: two others agree with this one (3 of 5); two are off.
    ({"b": 0.1, "c": -0.1, "d": 40.0, "e": 41.0}, 5, 1.0, True, False, -0.1),
    # Five peers: this one alone is off; three of the four others agree without it.
    ({"b": -5.0, "c": -5.2, "d": -5.1, "e": 7.0}, 5, 1.0, False, True, 5.0),
]


@pytest.mark.parametrize(("offsets", "members", "threshold", "ok", "outvoted", "offset"), CASES)
def test_judge(offsets: dict, members: int, threshold: float, ok: bool, outvoted: bool,
               offset: float | None) -> None:
    verdict = judge(offsets, members, threshold)
    assert (verdict.ok, verdict.outvoted) == (ok, outvoted)
    if offset is None:
        assert verdict.offset is None
    else:
        assert verdict.offset == pytest.approx(offset, abs=0.06)
    assert (verdict.reason is None) == ok


def test_judge_names_the_agreeing_peers_and_says_why() -> None:
    verdict = judge({"b": -30.0, "c": -30.2, "d": -29.9, "e": 9.0}, 5, 1.0)
    assert verdict.outvoted and verdict.agreeing == ("b", "c", "d")
    assert verdict.reason is not None and "+30.000s" in verdict.reason
    assert "max_clock_skew 1s" in verdict.reason


def test_judge_corrects_by_the_agreeing_majority_only() -> None:
    # Outvoted, 30 s ahead: take 30 s off to read the majority's time.
    assert judge({"b": -30.0, "c": -30.2}, 3, 1.0).correction == pytest.approx(30.1)
    # With the majority, a little ahead of the peer it agrees with: half the difference.
    assert judge({"b": -0.4, "c": 25.0}, 3, 1.0).correction == pytest.approx(0.2)
    # Unsure (one other measured, 30 s away): no correction, whoever is wrong.
    assert judge({"b": -30.0, "c": None}, 3, 1.0).correction == 0.0
    assert judge({}, 1, 1.0).correction == 0.0


def test_max_clock_skew_is_a_raft_setting_validated() -> None:
    assert RaftTuning().max_clock_skew == 1.0
    assert RaftTuning.from_config({"max_clock_skew": 0.25}).max_clock_skew == 0.25
    for bad in (0, -1, "1s", True):
        with pytest.raises(ConfigError) as err:
            RaftTuning.from_config({"max_clock_skew": bad})
        assert err.value.field == "raft.max_clock_skew"


def test_majority_clock_moves_wall_time_only() -> None:
    base = FakeClock(datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    correction = [30.0]
    clock = MajorityClock(base, lambda: correction[0])
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    base.advance(timedelta(seconds=2))
    assert clock.monotonic() == base.monotonic() == 2.0
    correction[0] = 0.0
    assert clock.now() == base.now()
