"""The command envelope: encode/decode, argument checks, and the frozen wire format."""

from __future__ import annotations

import json
import os

import pytest

from raftcron.errors import CommandDecodeError, ValidationError
from raftcron.model.commands import (
    OPS,
    VERSION,
    Command,
    batch_entry,
    decode,
    encode,
    validate_args,
    version_of,
)
from tests.support.paths import GOLDEN as GOLDEN_ROOT

GOLDEN = GOLDEN_ROOT / "commands"
AT = "2024-05-01T10:00:00Z"
JOB = {"name": "backup", "schedule": "0 30 2 * * *", "tz": "Europe/Berlin",
       "command": ["/usr/local/bin/backup.sh", "--full"], "paused": False, "keep_runs": 100}
RECORD = {"run_id": "r-1", "job": "backup", "slot": "2024-05-01T00:30:00Z", "attempt": 1,
          "peer": "127.0.0.1:7101", "target": "127.0.0.1:7101", "status": "pending",
          "reason": None, "manual": False, "retry_of": None, "fired_at": "2024-05-01T00:30:00.25Z"}

#: One sample per op: what the golden files freeze. Changing one is a deliberate act.
SAMPLES: dict[str, tuple[dict, str | None]] = {
    "put_job": ({"job": JOB, "expanded": "0 30 2 * * *", "at": AT, "create_only": True}, "k-put"),
    "delete_job": ({"name": "backup", "at": AT}, "k-del"),
    "set_paused": ({"name": "backup", "paused": True, "at": AT}, "k-pause"),
    "fire": ({"runs": [RECORD], "at": AT}, None),
    "run_started": ({"run_id": "r-1", "peer": "127.0.0.1:7101", "at": AT}, None),
    "run_finished": ({"run_id": "r-1", "status": "failed", "exit_code": 3, "stdout_tail": "done\n",
                      "stderr_tail": "disk full\n", "reason": "exit status 3", "at": AT,
                      "output_bytes": 15, "started_at": "2024-05-01T00:30:01Z"}, None),
    "run_lost": ({"run_id": "r-1", "reason": "peer 127.0.0.1:7102 gone for 15s", "at": AT}, None),
    "cancel_run": ({"run_id": "r-1", "at": AT}, "k-cancel"),
    "finish_job": ({"name": "backup", "at": AT}, None),
    "prune_runs": ({"run_ids": ["r-1", "r-2"]}, None),
    "put_node": ({"node": {"name": "db1", "connection_type": "ssh", "ssh_host": "10.0.0.5",
                           "roles": ["db"]}, "at": AT}, "k-node"),
    "delete_node": ({"name": "db1"}, None),
    "node_health": ({"name": "db1", "healthy": False, "reason": "connection refused",
                     "at": AT}, None),
    "noop": ({}, "k-noop"),
    "notify_intent": ({"items": [{
        "id": "failure:r-1:0123456789abcdef", "job": "backup", "event": "failure",
        "run_id": "r-1", "kind": "webhook", "target": "https://hooks.example/x",
        "payload": {"event": "failure", "job": "backup"}}], "at": AT}, None),
    "notify_result": ({"id": "failure:r-1:0123456789abcdef", "status": "delivered",
                       "attempts": 1, "error": None, "at": AT}, None),
    "put_peer": ({"peer": "127.0.0.1:7101", "api": "http://127.0.0.1:9101", "at": AT},
                 "put-peer:127.0.0.1:7101:0:http://127.0.0.1:9101"),
    "release_job": ({"name": "backup", "managed_by": "file:backup.toml", "at": AT}, "k-release"),
    "trigger": ({"job": "report", "cause": "after", "run_ids": ["r-9"], "triggered_by": "r-1",
                 "at": AT}, "after:report:r-1"),
    "backfill": ({"id": "bf-1", "job": "backup", "slots": ["2024-04-30T00:30:00Z"], "at": AT},
                 "k-backfill"),
    "pause_reason": ({"name": "backup", "reason": "paused after 3 consecutive failures; "
                      "last run r-1", "run_id": "r-1", "at": AT}, None),
    "run_slow": ({"run_id": "r-1", "at": AT}, "slow:r-1"),
    "move_run": ({"run_id": "r-1", "from_peer": "127.0.0.1:7101", "peer": "127.0.0.1:7102",
                  "target": "127.0.0.1:7102", "at": AT}, "move:r-1:127.0.0.1:7101"),
    "put_blackout": ({"name": "weekend", "schedule": "* 0-6 * * sat,sun", "tz": "Europe/Berlin",
                      "description": "maintenance", "at": AT}, "k-blackout"),
    "delete_blackout": ({"name": "weekend", "at": AT}, "k-blackout-del"),
    "put_group": ({"name": "db-heavy", "limit": 2, "at": AT}, "k-group"),
    "delete_group": ({"name": "db-heavy", "at": AT}, "k-group-del"),
    "fanout_step": ({"runs": [{**RECORD, "fired_at": AT},
                              {**RECORD, "run_id": "r-2", "target": "db2", "status": "skipped",
                               "reason": "not started: target db1 failed (keep_going = false)",
                               "fired_at": AT}], "at": AT}, "fanout:k"),
    "batch": ({"commands": [
        {"op": "run_started", "key": None, "args": {"run_id": "r-1", "peer": "p:1", "at": AT}},
        {"op": "run_finished", "key": "k-fin",
         "args": {"run_id": "r-2", "status": "succeeded", "exit_code": 0, "at": AT}},
    ]}, None),
}


def test_commands_samples_cover_every_op() -> None:
    assert set(SAMPLES) == set(OPS)


def test_commands_golden_files_cover_every_op() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(OPS)


@pytest.mark.parametrize("op", sorted(SAMPLES))
def test_commands_encoding_matches_golden_file(op: str) -> None:
    args, key = SAMPLES[op]
    encoded = encode(op, args, key)
    path = GOLDEN / f"{op}.json"
    if os.environ.get("RAFTCRON_UPDATE_GOLDEN") == "1":  # the deliberate act
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encoded + b"\n")
    assert path.read_bytes() == encoded + b"\n", (
        f"the wire format of {op} changed; if on purpose, bump commands.VERSION when older "
        "peers would apply it differently, and rerun with RAFTCRON_UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize("op", sorted(SAMPLES))
def test_commands_golden_files_decode_and_validate(op: str) -> None:
    command = decode((GOLDEN / f"{op}.json").read_bytes())
    args, key = SAMPLES[op]
    assert command == Command(op=op, args=args, key=key, v=version_of(op, args))
    validate_args(op, command.args)


def test_commands_envelope_order_is_fixed_and_compact() -> None:
    raw = encode("noop", {}, "k")
    assert raw == b'{"v":1,"op":"noop","key":"k","args":{}}'


def test_commands_encode_keeps_unicode_as_utf8() -> None:
    raw = encode("run_lost", {"run_id": "r", "reason": "ü", "at": AT})
    assert "ü".encode() in raw
    assert decode(raw).args["reason"] == "ü"


def test_commands_decode_batch_gives_children() -> None:
    args, _ = SAMPLES["batch"]
    command = decode(encode("batch", args))
    assert [c.op for c in command.children] == ["run_started", "run_finished"]
    assert command.children[1].key == "k-fin"


def test_commands_batch_entry_builds_an_entry() -> None:
    entry = batch_entry("run_lost", {"run_id": "r", "at": AT}, key="x")
    assert entry == {"op": "run_lost", "key": "x", "args": {"run_id": "r", "at": AT}}
    with pytest.raises(ValidationError):
        batch_entry("batch", {"commands": []})


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"op": "noop", "key": null, "args": {}}', "version"),
        (b'{"v": "1", "op": "noop", "key": null, "args": {}}', "version"),
        (b'{"v": 99, "op": "noop", "key": null, "args": {}}', "newer"),
        (b'{"v": 1, "op": "launch", "key": null, "args": {}}', "unknown op"),
        (b'{"v": 1, "op": "noop", "key": null}', "no args"),
        (b'{"v": 1, "op": "noop", "key": null, "args": []}', "no args"),
        (b'{"v": 1, "op": "noop", "key": 7, "args": {}}', "key"),
        (b'{"v": 1, "op": "noop", "key": null, "args": {}, "x": 1}', "unknown envelope"),
        (b'{"v": 1, "op": "noop", "key": null, "args": {"a": NaN}}', "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_commands_decode_refuses_malformed_entries(payload: bytes, words: str) -> None:
    with pytest.raises(CommandDecodeError, match=words):
        decode(payload)


@pytest.mark.parametrize(
    "args, words",
    [({}, "expected a list"), ({"commands": [1]}, "commands[0]: expected a command object"),
     ({"commands": [{"op": "zap", "args": {}}]}, "commands[0]: unknown op"),
     ({"commands": [{"op": "noop"}]}, "commands[0]: op 'noop' has no args")],
)
def test_commands_decode_marks_malformed_batches(args: dict, words: str) -> None:
    raw = json.dumps({"v": 1, "op": "batch", "key": None, "args": args}).encode()
    command = decode(raw)
    assert command.children == ()
    assert words in (command.problem or "")


def test_commands_decode_accepts_wrong_arg_types_for_apply_to_refuse() -> None:
    # Arguments are the state machine's business: it answers invalid_args, never stops.
    command = decode(b'{"v": 1, "op": "run_started", "key": null, "args": {"run_id": 5}}')
    assert command.args == {"run_id": 5}


@pytest.mark.parametrize(
    "op, args, field",
    [
        ("put_job", {"job": {"schedule": "x"}, "at": AT}, "job.name"),
        ("put_job", {"job": "backup", "at": AT}, "job"),
        ("put_job", {"job": {"name": "a", "paused": "yes"}, "at": AT}, "job.paused"),
        ("put_job", {"job": {"name": "a", "keep_runs": -1}, "at": AT}, "job.keep_runs"),
        ("put_job", {"job": {"name": "a"}, "at": "2024-05-01T10:00:00"}, "at"),
        ("put_job", {"job": {"name": "a"}, "at": AT, "create_only": 1}, "create_only"),
        ("delete_job", {"name": "", "at": AT}, "name"),
        ("delete_job", {"at": AT}, "name"),
        ("set_paused", {"name": "a", "paused": None, "at": AT}, "paused"),
        ("fire", {"runs": {}, "at": AT}, "runs"),
        ("fire", {"runs": [RECORD, {**RECORD, "slot": "soon"}], "at": AT}, "runs[1].slot"),
        ("fire", {"runs": [{**RECORD, "attempt": 0}], "at": AT}, "runs[0].attempt"),
        ("fire", {"runs": [{**RECORD, "attempt": True}], "at": AT}, "runs[0].attempt"),
        ("fire", {"runs": [{**RECORD, "status": "running"}], "at": AT}, "runs[0].status"),
        ("fire", {"runs": [{**RECORD, "color": "red"}], "at": AT}, "runs[0].color"),
        ("fire", {"runs": [{**RECORD, "peer": None}], "at": AT}, "runs[0].peer"),
        ("run_finished", {"run_id": "r", "status": "lost", "at": AT}, "status"),
        ("run_finished", {"run_id": "r", "status": "failed", "at": AT, "output_bytes": -1},
         "output_bytes"),
        ("run_finished", {"run_id": "r", "status": "failed", "at": AT, "exit_code": 1.5},
         "exit_code"),
        ("prune_runs", {"run_ids": ["a", 3]}, "run_ids[1]"),
        ("put_node", {"node": {"name": 1}, "at": AT}, "node.name"),
        ("node_health", {"name": "n", "healthy": 1, "at": AT}, "healthy"),
        ("noop", {"x": 1}, "x"),
        ("batch", {"commands": [{"op": "noop", "args": {"x": 1}}]}, "commands[0].args.x"),
        ("batch", {"commands": [{"op": "batch", "args": {"commands": []}}]}, "commands[0].op"),
    ],
)
def test_commands_encode_names_the_bad_field(op: str, args: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        encode(op, args)
    assert info.value.field == field
    assert field in info.value.message


def test_commands_encode_refuses_unknown_op_and_bad_key() -> None:
    with pytest.raises(ValidationError) as info:
        encode("launch", {})
    assert info.value.field == "op"
    with pytest.raises(ValidationError) as info:
        encode("noop", {}, key=3)  # type: ignore[arg-type]
    assert info.value.field == "key"


def test_commands_validate_args_fills_defaults() -> None:
    args = validate_args("run_finished", {"run_id": "r", "status": "succeeded", "at": AT})
    assert args == {"run_id": "r", "status": "succeeded", "exit_code": None, "stdout_tail": "",
                    "stderr_tail": "", "reason": None, "at": AT, "output_bytes": 0,
                    "started_at": None, "output_truncated": False}
    minimal = {"run_id": "r", "job": "j", "slot": AT, "peer": "p", "fired_at": AT}
    record = validate_args("fire", {"runs": [minimal], "at": AT})["runs"][0]
    assert record["attempt"] == 1 and record["status"] == "pending"
    assert record["manual"] is False and record["retry_of"] is None and record["target"] is None


def test_commands_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode("put_job", {"job": {"name": "a", "x": float("nan")}, "at": AT})


def test_commands_golden_files_are_plain_json() -> None:
    for path in GOLDEN.glob("*.json"):
        assert 1 <= json.loads(path.read_text())["v"] <= VERSION


def test_commands_version_is_the_lowest_that_holds_the_command() -> None:
    # Entries older peers apply alike keep version 1 (and their bytes): a rolling upgrade
    # goes on until the first entry that uses something new.
    put, _ = SAMPLES["put_job"]
    assert version_of("put_job", put) == 1
    assert version_of("put_job", {**put, "managed_by": "file:backup.toml"}) == 2
    assert version_of("put_job", {**put, "managed_by": None}) == 2  # presence counts
    assert version_of("put_peer", SAMPLES["put_peer"][0]) == 2
    assert version_of("release_job", SAMPLES["release_job"][0]) == 2
    inner = batch_entry("release_job", SAMPLES["release_job"][0])
    assert version_of("batch", {"commands": [inner]}) == 2
    assert json.loads(encode("put_job", {**put, "managed_by": "file:b.toml"}))["v"] == 2


def test_commands_decode_reads_version_1_and_2_and_refuses_newer() -> None:
    assert decode(b'{"v":1,"op":"noop","key":null,"args":{}}').v == 1
    assert decode(b'{"v":2,"op":"noop","key":null,"args":{}}').v == 2
    with pytest.raises(CommandDecodeError, match="newer than this build"):
        decode(f'{{"v":{VERSION + 1},"op":"noop","key":null,"args":{{}}}}'.encode())


def test_decode_reads_what_msgspec_refuses_as_the_standard_library_does() -> None:
    # Entries are read through msgspec; where it refuses a text the standard library reads
    # it, so an entry's value does not depend on which one did.
    raw = (b'{"v":1,"op":"delete_job","key":null,"args":{"name":"x","huge":1e400,'
           b'"big":123456789012345678901234567890,"s":"\\ud800"}}')
    assert decode(raw).args == json.loads(raw.decode())["args"]
    for bad in (b'{"v":1,"op":"delete_job","args":{"n":NaN}}', b'\xff', b'[' * 100_000):
        with pytest.raises(CommandDecodeError, match="not valid JSON"):
            decode(bad)
