"""The versioned JSON command envelope: what enters the Raft log.

A command is `{"v": 1, "op": "...", "key": "idempotency key" | null, "args": {...}}`, UTF-8
JSON, never pickle. Two layers of checking, on purpose:

- `decode` checks the *envelope* (JSON object, known `op`, `args` an object, `key` a string or
  null, `v` not newer than this build). A failure is a `CommandDecodeError`: the entry is
  corrupt or from a newer build, and the state machine must stop rather than guess (every
  peer stops at the same entry, so copies never diverge).
- `validate_args` checks each op's *arguments* (types, required fields, times). The proposer
  gets it through `encode` as a `ValidationError` naming the field; the state machine turns it
  into a business-error result, because an exception inside pysyncobj's apply would stop the
  peer for good over what is only a bad request. A `batch` whose entries are not envelopes is
  such a bad request too (`Command.problem`); well-formed entries are in `Command.children`.

The table of ops and arguments, with the version that introduced each, is
`command_table.py`. `encode` writes the lowest version that holds
everything a command uses: an entry an older peer applies alike keeps its old version (and its
old bytes), so such an entry never stops a peer that is not yet upgraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raftcron import codec
from raftcron.durations import parse_time
from raftcron.errors import CommandDecodeError, ValidationError
from raftcron.model import window_commands
from raftcron.model.command_table import (
    ARGS,
    INTRODUCED,
    MAX_TAIL_BYTES,
    NEXT_ARGS,
    OPS,
    RECORD_ARGS,
    VERSION,
    Arg,
)
from raftcron.model.outbox import FINAL_STATUSES, check_items
from raftcron.model.types import FINISH_STATUSES, FIRE_STATUSES

__all__ = ["ARGS", "INTRODUCED", "MAX_TAIL_BYTES", "OPS", "VERSION", "Command", "batch_entry",
           "decode", "encode", "validate_args", "version_of"]




#: op -> {argument: the version that added it}, for the arguments added after version 1.
_NEWER_ARGS: dict[str, dict[str, int]] = {}
for (_op, _name), _v in INTRODUCED.items():
    if _name is not None and _v > 1:
        _NEWER_ARGS.setdefault(_op, {})[_name] = _v


def version_of(op: str, args: Mapping[str, Any]) -> int:
    """The lowest envelope version that holds `op(args)` (a batch: its newest entry)."""
    v = max(INTRODUCED.get((op, None), 1), window_commands.version_of_args(op, args))
    # Presence counts, null or not: an older peer refuses an argument it does not know.
    newer = _NEWER_ARGS.get(op)
    if newer:
        for name in args:
            added = newer.get(name)
            if added is not None and added > v:
                v = added
    if op == "batch" and isinstance(args.get("commands"), list):
        for entry in args["commands"]:
            if isinstance(entry, Mapping) and isinstance(entry.get("args"), Mapping):
                v = max(v, version_of(str(entry.get("op")), entry["args"]))
    return v


@dataclass(frozen=True)
class Command:
    """One decoded log entry. `args` is as written by the proposer (not yet validated)."""

    op: str
    args: dict[str, Any]
    key: str | None = None
    v: int = VERSION
    #: For `batch`: the entries, decoded. Empty for every other op.
    children: tuple[Command, ...] = field(default=(), compare=False, repr=False)
    #: For a malformed `batch` (entries not a list of envelopes): why. Apply refuses it.
    problem: str | None = field(default=None, compare=False, repr=False)


def encode(op: str, args: Mapping[str, Any], key: str | None = None) -> bytes:
    """The log entry for `op(args)`: compact UTF-8 JSON, envelope keys in a fixed order.

    Raises `ValidationError` (field names the bad argument) when `args` would not apply.
    """
    if op not in OPS:
        raise ValidationError(f"unknown command op {op!r}", field="op")
    if key is not None and not isinstance(key, str):
        raise ValidationError("key: expected a string or null", field="key")
    validate_args(op, args)
    envelope = {"v": version_of(op, args), "op": op, "key": key, "args": dict(args)}
    return codec.encode_strict(envelope)


def batch_entry(op: str, args: Mapping[str, Any], key: str | None = None) -> dict[str, Any]:
    """One entry of a `batch` command's `commands` list (an envelope without `v`)."""
    if op not in OPS or op == "batch":
        raise ValidationError(f"op {op!r} cannot be batched", field="op")
    validate_args(op, args)
    return {"op": op, "key": key, "args": dict(args)}


def decode(payload: bytes | str) -> Command:
    """Parse a log entry. Raises `CommandDecodeError` for anything but a well-formed envelope."""
    try:
        # msgspec where it reads the text; the standard library's reading and verdict where
        # it does not (`raftcron.codec`): every peer decodes an entry to the same value.
        data = codec.decode(payload, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise CommandDecodeError(f"command is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandDecodeError("command is not a JSON object")
    v = data.get("v")
    if type(v) is not int or v < 1:
        raise CommandDecodeError(f"command has no valid version 'v' (got {v!r})")
    if v > VERSION:
        raise CommandDecodeError(
            f"command version {v} is newer than this build reads ({VERSION}): upgrade this peer"
        )
    return _decode_entry(data, allowed={"v", "op", "key", "args"}, where="command", v=v)


def _decode_entry(data: dict[str, Any], *, allowed: set[str], where: str, v: int) -> Command:
    extra = sorted(set(data) - allowed)
    if extra:
        raise CommandDecodeError(f"{where}: unknown envelope fields {extra}")
    op = data.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise CommandDecodeError(f"{where}: unknown op {op!r}")
    key = data.get("key")
    if key is not None and not isinstance(key, str):
        raise CommandDecodeError(f"{where}: key must be a string or null")
    args = data.get("args")
    if not isinstance(args, dict):
        raise CommandDecodeError(f"{where}: op {op!r} has no args object")
    children: tuple[Command, ...] = ()
    problem = None
    if op == "batch":
        children, problem = _decode_children(args.get("commands"), v)
    return Command(op=op, args=args, key=key, v=v, children=children, problem=problem)


def _decode_children(entries: Any, v: int) -> tuple[tuple[Command, ...], str | None]:
    """A batch's entries, or `((), why)` when they are malformed. A malformed batch is the
    state machine's business error, not a fatal one: it names no op this build lacks."""
    if not isinstance(entries, list):
        return (), "commands: expected a list of commands"
    decoded = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return (), f"commands[{i}]: expected a command object"
        try:
            decoded.append(
                _decode_entry(entry, allowed={"op", "key", "args"}, where=f"commands[{i}]", v=v)
            )
        except CommandDecodeError as exc:
            return (), exc.message
    return tuple(decoded), None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def validate_args(op: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Check `args` for `op`; return a copy with defaults filled in.

    Raises `ValidationError` whose `field` names the argument (`runs[2].slot`). Pure and
    deterministic: safe inside apply.
    """
    spec = ARGS.get(op)
    if spec is None:
        raise ValidationError(f"unknown command op {op!r}", field="op")
    if not isinstance(args, Mapping):
        raise ValidationError(f"{op}: args must be an object", field="args")
    return _check_fields(args, spec, prefix="")


def _check_fields(data: Mapping[str, Any], spec: dict[str, Arg], *, prefix: str) -> dict:
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise ValidationError(f"{prefix}{unknown[0]}: unknown argument", field=prefix + unknown[0])
    out: dict[str, Any] = {}
    for name, arg in spec.items():
        where = prefix + name
        if name not in data:
            if arg.required:
                raise ValidationError(f"{where}: required", field=where)
            out[name] = arg.default
            continue
        value = data[name]
        if value is None:
            if not arg.nullable:
                raise ValidationError(f"{where}: must not be null", field=where)
            out[name] = None
            continue
        out[name] = _check_value(arg.kind, value, where)
    return out


def _fail(where: str, what: str, value: Any) -> ValidationError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ValidationError(f"{where}: expected {what}, got {shown}", field=where)


def _check_value(kind: str, value: Any, where: str) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise _fail(where, "a string", value)
    elif kind == "name":
        if not isinstance(value, str) or not value:
            raise _fail(where, "a non-empty string", value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _fail(where, "true or false", value)
    elif kind in ("int", "count", "attempt"):
        if type(value) is not int:
            raise _fail(where, "an integer", value)
        if kind == "count" and value < 0:
            raise _fail(where, "an integer >= 0", value)
        if kind == "attempt" and value < 1:
            raise _fail(where, "an integer >= 1", value)
    elif kind == "time":
        if not isinstance(value, str):
            raise _fail(where, "an ISO 8601 UTC time", value)
        parse_time(value, field=where)
    elif kind == "fire_status":
        if not isinstance(value, str) or value not in FIRE_STATUSES:
            raise _fail(where, "one of " + "|".join(sorted(FIRE_STATUSES)), value)
    elif kind == "finish_status":
        if not isinstance(value, str) or value not in FINISH_STATUSES:
            raise _fail(where, "one of " + "|".join(sorted(FINISH_STATUSES)), value)
    elif kind == "notifications":
        check_items(value, where)
    elif kind == "notify_final":
        if value not in FINAL_STATUSES:
            raise _fail(where, "one of " + "|".join(FINAL_STATUSES), value)
    elif kind in ("job", "node"):
        _check_resource(kind, value, where)
    elif kind == "next":
        _check_next(value, where)
    elif kind == "next_map":
        if not isinstance(value, dict):
            raise _fail(where, "an object of job -> {slot, fire_at}", value)
        for name, item in value.items():
            _check_value("name", name, f"{where}.{name}")
            _check_next(item, f"{where}.{name}")
    elif kind == "names":
        if not isinstance(value, list):
            raise _fail(where, "a list of strings", value)
        for i, item in enumerate(value):
            _check_value("name", item, f"{where}[{i}]")
    elif kind == "records":
        if not isinstance(value, list):
            raise _fail(where, "a list of run records", value)
        return [_check_record(item, f"{where}[{i}]") for i, item in enumerate(value)]
    elif kind == "commands":
        if not isinstance(value, list):
            raise _fail(where, "a list of commands", value)
        for i, item in enumerate(value):
            _check_entry(item, f"{where}[{i}]")
    else:  # pragma: no cover - the ARGS table names only the kinds above
        raise AssertionError(kind)
    return value


def _check_resource(kind: str, value: Any, where: str) -> None:
    """A job or node dict: only what apply itself relies on (model.py validated the rest)."""
    if not isinstance(value, dict):
        raise _fail(where, f"a {kind} object", value)
    _check_value("name", value.get("name"), f"{where}.name")
    if kind == "job":
        if "paused" in value:
            _check_value("bool", value["paused"], f"{where}.paused")
        for name in ("keep_runs", "max_runs"):
            if value.get(name) is not None:
                _check_value("count", value[name], f"{where}.{name}")


def _check_next(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise _fail(where, "an object {slot, fire_at}", value)
    _check_fields(value, NEXT_ARGS, prefix=f"{where}.")


def _check_record(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "a run record object", value)
    record = _check_fields(value, RECORD_ARGS, prefix=f"{where}.")
    if record["status"] == "pending" and record["peer"] is None:
        raise ValidationError(f"{where}.peer: a pending run needs a peer", field=f"{where}.peer")
    return record


def _check_entry(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise _fail(where, "a command object", value)
    op = value.get("op")
    if not isinstance(op, str) or op not in OPS or op == "batch":
        raise _fail(f"{where}.op", "an op other than batch", op)
    key = value.get("key")
    if key is not None and not isinstance(key, str):
        raise _fail(f"{where}.key", "a string or null", key)
    extra = sorted(set(value) - {"op", "key", "args"})
    if extra:
        raise ValidationError(f"{where}.{extra[0]}: unknown field", field=f"{where}.{extra[0]}")
    args = value.get("args")
    if not isinstance(args, dict):
        raise _fail(f"{where}.args", "an object", args)
    try:
        validate_args(op, args)
    except ValidationError as exc:
        field = f"{where}.args.{exc.field}" if exc.field else f"{where}.args"
        raise ValidationError(f"{where}.args.{exc.message}", field=field) from None
