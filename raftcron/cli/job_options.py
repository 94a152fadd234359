"""The job fields as command-line options: `jobs add`'s options, and `--set KEY=VALUE` /
`--unset KEY` for any field, typed from the job model.

`--set` takes every field of the job resource (docs/jobs.md), a dotted key for one entry of
an object field (`env.LEVEL=full`, `labels.team=data`, `notify.on=failure,success`), and
reads VALUE by the field's type in `raftcron.model.Job`: a number for an integer field,
true/false for a flag, a JSON array or comma-separated words for a list (`roles=db,main`; argv
fields, `command` and `interpreter`, take shell words or a JSON array, and a plain `command`
string runs through /bin/sh -c), a JSON object for an object field, and the text itself for
anything else (durations, times, choices: the server validates them and names the field).
`--unset KEY` sends null: the field takes its default (`jobs edit` only).
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import types
import typing
from pathlib import Path
from typing import Any

from raftcron.errors import ValidationError
from raftcron.model import Catchup, Concurrency, Hosts, Job, JobType, Notify
from raftcron.model.job import FIELDS, NOTIFY_FIELDS

#: Fields whose words are an argv: shell-split, not comma-split.
_ARGV_FIELDS = frozenset({"command", "interpreter"})
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
#: Integer fields that also take a size with a unit ("10MiB"), sent as written.
_SIZE_FIELDS = frozenset({"output_limit"})

#: (option, job field, help) of the options that each set one plain field (the text as given).
_TEXT_OPTIONS = (
    ("--tz", "tz", "IANA time zone of the schedule (default UTC)"),
    ("--description", "description", "free text shown with the job"),
    ("--type", "type", "command (default), script or binary (the last two need --script)"),
    ("--cwd", "cwd", "working directory of the command"),
    ("--user", "user", "run as this user (a privileged user needs the admin token)"),
    ("--timeout", "timeout", "the job's timeout (a duration such as 2h; not the HTTP one)"),
    ("--kill-grace", "kill_grace", "between SIGTERM and SIGKILL on timeout or cancel "
                                   "(default 5s)"),
    ("--retry-backoff", "retry_backoff", "first pause before a retry, doubled each time "
                                         "(default 10s)"),
    ("--retry-backoff-max", "retry_backoff_max", "longest pause before a retry (default 10m)"),
    ("--concurrency", "concurrency", "allow, forbid (default), replace or queue"),
    ("--catchup", "catchup", "latest (default), all or none: slots missed while down"),
    ("--catchup-window", "catchup_window", "how far back missed slots are caught up "
                                           "(default 1h)"),
    ("--jitter", "jitter", "random delay of each run, up to this duration"),
    ("--start-at", "start_at", "no slot before this time (ISO 8601)"),
    ("--end-at", "end_at", "no slot after this time (ISO 8601)"),
    ("--hosts", "hosts", "any (default: one eligible target) or all (every one)"),
    ("--concurrency-group", "concurrency_group", "share the limit of this concurrency group "
                                                 "with its other jobs"),
    ("--notify-webhook", "notify.webhook", "http(s) URL told of the notify events"),
    ("--notify-absent-after", "notify.absent_after", "for the absent event: how long without "
                                                     "a success"),
    ("--fail-if-output-matches", "fail_if_output_matches", "a run whose output has a line "
                                                           "matching this regex failed"),
    ("--expected-duration", "expected_duration", "a run longer than this is flagged slow and "
                                                 "notified (not killed)"),
)
#: Options whose value is typed from the model like a `--set` value.
_TYPED_OPTIONS = (
    ("--retries", "retries", "N", "tries after a failed run (default 0)"),
    ("--max-runs", "max_runs", "N", "the job finishes after this many runs"),
    ("--keep-runs", "keep_runs", "N", "finished runs kept in the history (default 100)"),
    ("--output-tail", "output_tail", "BYTES", "bytes of each stream's tail kept with a run "
                                              "(default 4096)"),
    ("--output-limit", "output_limit", "SIZE", "cap on each output file of a run, bytes or "
                                               "e.g. 10MiB (default: the cluster's, 100MiB)"),
    ("--roles", "roles", "a,b", "run only on targets that have all these roles"),
    ("--queue-cap", "queue_cap", "N", "queue_all: at most this many slots wait (default 10)"),
    ("--max-parallel", "max_parallel", "N|N%", "hosts all: targets at a time, a number or a "
                                               "share like 25%%"),
    ("--interpreter", "interpreter", "WORDS", "the interpreter of a script job, e.g. "
                                              "'/usr/bin/env python3'"),
    ("--after", "after", "JOBS", "run once each listed job has succeeded since this job's "
                                 "last run (comma-separated)"),
    ("--on-failure", "on_failure", "JOBS", "jobs to run when a run of this one ends failed "
                                           "after its retries (comma-separated)"),
    ("--pause-after-failures", "pause_after_failures", "N", "pause the job after N "
                                                            "consecutive failed slots"),
    ("--success-exit-codes", "success_exit_codes", "CODES", "exit codes that count as success "
                                                            "(comma-separated; default 0)"),
    ("--notify-on", "notify.on", "EVENTS", "failure, recovery, success, missed, absent "
                                           "(comma-separated; default failure,recovery)"),
)


#: The options with a fixed set of values (argparse checks them; completion offers them).
_CHOICES = {"type": JobType, "concurrency": Concurrency, "catchup": Catchup, "hosts": Hosts}


def add_job_options(p: argparse.ArgumentParser) -> None:
    """`jobs add`'s options: one per job field, plus `--set`, `--file`, `--replace`."""
    p.add_argument("name", help="the job's name")
    p.add_argument("--schedule", action="append", dest="job_schedule", metavar="EXPR",
                   help="cron (5 or 6 fields), @every 5m, @at TIME, H H * * *; repeat it for "
                        "several schedules (the union of their slots)")
    p.add_argument("--blackout", action="append", default=[], metavar="CRON",
                   help="a blackout window in the job's zone, e.g. '* 0-6 * * sat,sun'; "
                        "repeat for more")
    p.add_argument("--stop-on-failure", action="store_true",
                   help="hosts all with --max-parallel: start no further target after one "
                        "failed (keep_going = false)")
    for option, field, text in _TEXT_OPTIONS:
        choices = _CHOICES.get(field)
        if choices is not None:
            p.add_argument(option, dest=_dest(field), choices=[str(c) for c in choices],
                           help=text)
        else:
            p.add_argument(option, dest=_dest(field),
                           metavar=field.rsplit(".", 1)[-1].upper(), help=text)
    for option, field, metavar, text in _TYPED_OPTIONS:
        p.add_argument(option, dest=_dest(field), metavar=metavar, help=text)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="one environment variable of the command; repeat for more")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="one label (for filtering); repeat for more")
    p.add_argument("--notify-email", action="append", default=[], metavar="ADDRESS",
                   help="one address told of the notify events; repeat for more")
    p.add_argument("--owner", action="append", default=[], metavar="NAME[:EMAIL]",
                   help="one owner of the job; repeat for more")
    p.add_argument("--script", metavar="FILE",
                   help="the script (or binary) a script or binary job runs, read from FILE")
    p.add_argument("--paused", action="store_true", help="create it paused")
    p.add_argument("--shell", action="store_true",
                   help="run the command words as one string through /bin/sh -c")
    add_set_option(p)
    p.add_argument("--file", help="a job file (JSON or TOML) instead of the options")
    p.add_argument("--replace", action="store_true", help="replace the job if it exists")
    p.set_defaults(takes_command=True, cmd=[])


def add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], dest="set_fields",
                   metavar="KEY=VALUE",
                   help="set any job field, typed from the job model (env.KEY=V for one "
                        "entry of an object); repeat for more")


def add_edit_options(p: argparse.ArgumentParser) -> None:
    """`jobs edit`'s options."""
    p.add_argument("name", help="the job's name")
    add_set_option(p)
    p.add_argument("--unset", action="append", default=[], metavar="KEY",
                   help="reset a field to its default (env.KEY: remove one entry); repeat "
                        "for more")


def _dest(field: str) -> str:
    return "job_" + field.replace(".", "_")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _kinds(hint: Any) -> set[Any]:
    """The plain types a field's annotation admits (`list[str] | None` -> {list, None})."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return set().union(*(_kinds(a) for a in typing.get_args(hint)))
    if hint is type(None):
        return {None}
    origin = typing.get_origin(hint)
    return {origin if origin is not None else hint}


def field_kinds(key: str) -> set[Any]:
    """The plain types `key` (a job field or `notify.X`) takes; ValidationError if unknown."""
    top, _, sub = key.partition(".")
    if top == "notify" and sub:
        if sub not in NOTIFY_FIELDS:
            raise ValidationError(f"--set: {key!r} is not a notify field (one of "
                                  f"{', '.join(NOTIFY_FIELDS)})", field=key)
        return _kinds(_hints(Notify)[sub])
    if top not in FIELDS:
        raise ValidationError(f"--set: {top!r} is not a job field (one of {', '.join(FIELDS)})",
                              field=top)
    return _kinds(_hints(Job)[top])


def typed_value(key: str, text: str) -> Any:
    """`text` read as the value of job field `key` (see the module docstring)."""
    kinds = field_kinds(key)
    top = key.partition(".")[0]
    if top in ("env", "labels") and "." in key:
        return text  # one entry of a string map
    stripped = text.strip()
    if (list in kinds and stripped.startswith("[")) or (
            (dict in kinds or Notify in kinds or (top == "notify" and "." not in key))
            and stripped.startswith("{")):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise ValidationError(f"{key}: not valid JSON ({exc})", field=key) from None
    if bool in kinds:
        if stripped.lower() in _TRUE | _FALSE:
            return stripped.lower() in _TRUE
        raise ValidationError(f"{key}: expected true or false, got {text!r}", field=key)
    if int in kinds:
        try:
            return int(stripped)
        except ValueError:
            if str in kinds or key in _SIZE_FIELDS:  # "25%" (max_parallel), "10MiB"
                return text
            raise ValidationError(f"{key}: expected an integer, got {text!r}",
                                  field=key) from None
    if key in _ARGV_FIELDS:
        if key == "command" and str in kinds:
            return text  # a string command runs through /bin/sh -c, as the model says
        return shlex.split(text)
    if list in kinds:
        words = [w.strip() for w in text.split(",") if w.strip()]
        if "." not in key and typing.get_args(_hints(Job)[key])[:1] == (int,):
            try:  # a list of integers (success_exit_codes)
                return [int(w) for w in words]
            except ValueError:
                raise ValidationError(f"{key}: expected integers separated by commas, got "
                                      f"{text!r}", field=key) from None
        return words
    if dict in kinds or Notify in kinds:
        raise ValidationError(f"{key}: expected a JSON object, or set one entry as "
                              f"{key}.KEY=VALUE", field=key)
    return text


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` (dotted: one entry of an object field) in `body`."""
    top, dot, sub = key.partition(".")
    if dot:
        entry = body.get(top)
        if not isinstance(entry, dict):
            entry = body[top] = {}
        entry[sub] = value
    else:
        body[top] = value


def _split(item: str, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ValidationError(f"{option}: expected KEY=VALUE, got {item!r}", field=option)
    return key.strip(), value


def pairs(values: list[str], option: str) -> dict[str, str]:
    return dict(_split(item, option) for item in values)


def apply_sets(body: dict[str, Any], sets: list[str]) -> None:
    """Each `--set KEY=VALUE` into `body`, typed."""
    for item in sets:
        key, text = _split(item, "--set")
        _put(body, key, typed_value(key, text))


def patch_body(args: argparse.Namespace) -> dict[str, Any]:
    """The merge patch `jobs edit` sends: `--set` values, null for each `--unset`."""
    patch: dict[str, Any] = {}
    for key in args.unset:
        field_kinds(key.strip())  # an unknown field is refused before anything is sent
        _put(patch, key.strip(), None)
    apply_sets(patch, args.set_fields)
    if not patch:
        raise ValidationError("jobs edit: nothing to change (give --set KEY=VALUE or "
                              "--unset KEY)", field="set")
    return patch


def _owner(text: str) -> dict[str, str | None]:
    name, _, email = text.partition(":")
    return {"name": name.strip(), "email_address": email.strip() or None}


def job_body(args: argparse.Namespace) -> dict[str, Any]:
    """The job resource that `jobs add` sends (only the fields given)."""
    if args.file:
        from raftcron import model  # the file formats live in the config layer
        from raftcron.config import cluster as config

        body = model.job_to_dict(config.load_job_file(args.file))
        body["name"] = args.name
        apply_sets(body, args.set_fields)
        return body
    body: dict[str, Any] = {"name": args.name}
    if args.job_schedule:
        schedules = list(args.job_schedule)
        body["schedule"] = schedules[0] if len(schedules) == 1 else schedules
    if args.blackout:
        body["blackout"] = list(args.blackout)
    if args.stop_on_failure:
        body["keep_going"] = False
    for _, field, _ in _TEXT_OPTIONS:
        value = getattr(args, _dest(field))
        if value is not None:
            _put(body, field, value)
    for _, field, _, _ in _TYPED_OPTIONS:
        value = getattr(args, _dest(field))
        if value is not None:
            _put(body, field, typed_value(field, value))
    if args.cmd:
        body["command"] = " ".join(args.cmd) if args.shell else list(args.cmd)
    if args.script:
        try:
            raw = Path(args.script).read_bytes()
        except OSError as exc:
            raise ValidationError(f"--script: cannot read {args.script}: {exc.strerror}",
                                  field="script") from None
        body["script"] = base64.b64encode(raw).decode("ascii")
        body.setdefault("type", "script")
    if args.env:
        body["env"] = pairs(args.env, "--env")
    if args.label:
        body["labels"] = pairs(args.label, "--label")
    if args.notify_email:
        _put(body, "notify.email", list(args.notify_email))
    if args.owner:
        body["owners"] = [_owner(o) for o in args.owner]
    if args.paused:
        body["paused"] = True
    apply_sets(body, args.set_fields)
    if not body.get("schedule"):
        raise ValidationError("--schedule: needed (or --file)", field="schedule")
    if "command" not in body and "script" not in body:
        raise ValidationError("command: give the command after '--' (or --script FILE)",
                              field="command")
    return body
