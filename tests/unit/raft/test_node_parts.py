"""The node's small parts without a Raft group: tuning, the snapshot's raft data, log lines."""

from __future__ import annotations

import io
import json
import logging
import warnings

import pytest

from raftcron.config.tuning import RaftTuning
from raftcron.errors import ConfigError
from raftcron.logs import add_secret, setup_logging, silence_known_noise
from raftcron.raft.snapshots import SnapshotError, decode_raft_data, encode_raft_data
from raftcron.raft.syncobj import compaction_threshold


def test_tuning_defaults_are_valid() -> None:
    tuning = RaftTuning.from_config(None)
    assert tuning.election_timeout_min > 3 * tuning.heartbeat
    assert tuning.keepalive_interval < tuning.connection_timeout


@pytest.mark.parametrize(("table", "field"), [
    ({"heartbeat": 0.4}, "raft.election_timeout_min"),
    ({"election_timeout_max": 0.5}, "raft.election_timeout_max"),
    ({"log_compaction_entries": 1}, "raft.log_compaction_entries"),
    ({"heartbeat": "fast"}, "raft.heartbeat"),
    ({"heartbeat": -1}, "raft.heartbeat"),
    ({"bogus": 1}, "raft.bogus"),
])
def test_tuning_refuses_bad_settings_naming_the_key(table: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        RaftTuning.from_config(table)
    assert err.value.field == field


def test_tuning_slow_elections_pull_the_timeouts_along() -> None:
    tuning = RaftTuning.from_config({"election_timeout_min": 2, "election_timeout_max": 4})
    assert tuning.connection_timeout >= 4 and tuning.leader_fallback >= 12


class _Member:
    def __init__(self, ident: str) -> None:
        self.id = ident


def test_raftsnap_raft_data_round_trips_as_journal_tuples() -> None:
    last = (b"\x00\x80binary\xff", 41, 3)
    prev = (b"\x01", 40, 2)
    blob = encode_raft_data((last, prev, {_Member("b:2"), _Member("a:1")}), state_index=39)
    doc = json.loads(blob)  # JSON, never pickle
    assert doc["cluster"] == ["a:1", "b:2"]
    (got_last, got_prev, cluster), state_index = decode_raft_data(blob)
    assert got_last == last and got_prev == prev and state_index == 39
    assert type(got_last) is tuple and type(got_last[0]) is bytes
    assert sorted(n.id for n in cluster) == ["a:1", "b:2"]


@pytest.mark.parametrize("blob", [b"not json", b'{"v": 99}', b'{"v": 1, "last": []}'])
def test_raftsnap_refuses_damaged_raft_data(blob: bytes) -> None:
    with pytest.raises(SnapshotError):
        decode_raft_data(blob)


def _capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    setup_logging(fmt, peer="127.0.0.1:7101", stream=stream, secrets=["hunter2-secret"])
    return stream


@pytest.fixture(autouse=False)
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_logs_text_is_one_line_per_event_and_redacted(restore_logging: object) -> None:
    stream = _capture("text")
    log = logging.getLogger("raftcron.test")
    try:
        raise ValueError("boom\nwith hunter2-secret inside")
    except ValueError:
        log.exception("failed with %s", "hunter2-secret")
    add_secret("later-token-value")
    log.info("token later-token-value", extra={"run_id": "r1"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "hunter2-secret" not in stream.getvalue() and "later-token-value" not in lines[1]
    assert "[127.0.0.1:7101] raftcron.test: failed with ***" in lines[0]
    assert "Traceback" in lines[0] and lines[1].endswith("run_id=r1")


def test_logs_json_lines_parse_and_are_redacted(restore_logging: object) -> None:
    stream = _capture("json")
    logging.getLogger("x").warning("secret is %s", "hunter2-secret", extra={"job": "j"})
    doc = json.loads(stream.getvalue())
    assert doc["msg"] == "secret is ***" and doc["level"] == "WARNING"
    assert doc["peer"] == "127.0.0.1:7101" and doc["job"] == "j"


def test_logs_json_turns_python_warnings_into_json_lines(restore_logging: object) -> None:
    stream = _capture("json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a library says something", UserWarning, stacklevel=1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["logger"] == "py.warnings" and "a library says something" in doc["msg"]


def test_logs_known_third_party_noise_is_silenced() -> None:
    import raftcron  # noqa: F401  (installs the filters)
    from raftcron.logs import KNOWN_NOISE

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        silence_known_noise()
        for message, _module in KNOWN_NOISE:
            warnings.warn_explicit(message.replace("\\", ""), UserWarning, "dsa.py", 1,
                                   module="asyncssh.crypto.dsa")
        warnings.warn_explicit("DSA is deprecated", UserWarning, "mine.py", 1, module="mine")
    assert [str(w.message) for w in caught] == ["DSA is deprecated"]


def test_raftobj_compaction_thresholds_are_staggered_per_peer() -> None:
    peers = ["10.0.0.3:7100", "10.0.0.1:7100", "10.0.0.2:7100"]
    tuning = RaftTuning(log_compaction_entries=9000)
    got = [compaction_threshold(tuning, p, peers) for p in sorted(peers)]
    assert got == [9000, 12000, 15000]
