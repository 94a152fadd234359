"""A classic crontab (cronie, `man 5 crontab`) -> job resources in the API's shape (docs/api.md).

Pure: `parse_crontab(text, file=...)` reads no files and no clock. What it understands:

- blank lines and `#` comments; a `# raftcron: name=NAME` comment names the job on the very
  next line (any other line in between cancels it);
- environment assignments `NAME=value` (spaces around `=` allowed, the value may be single-
  or double-quoted) that apply to every job line after them. They become the job's `env`,
  except `CRON_TZ`/`TZ` (the job's `tz`, validated), `MAILTO` (`notify.email` with
  `on = ["failure"]`; empty means no mail, a comma list means several addresses) and
  `RANDOM_DELAY` (cronie's random start delay in minutes -> the job's `jitter`);
- five-field lines (`m h dom mon dow command`, a leading `-` of cronie's no-log flag dropped)
  and the macros `@yearly @annually @monthly @weekly @daily @midnight @hourly`. `@reboot` is
  refused: a cluster has no boot event;
- the system format (`/etc/crontab`, `/etc/cron.d/*`): a user field after the schedule, which
  becomes the job's `user` (`user_field=True`);
- `%` in a command: cron turns an unescaped `%` into a newline and feeds the rest as stdin,
  which a job cannot express, so such a line is refused; `\\%` becomes `%`.

The command stays one string (run by `/bin/sh -c`, as cron does). Jobs are named
`<prefix>-<n>`, `n` counting job lines from 1, unless a `# raftcron: name=` comment names them.
Every job is validated through `raftcron.model.job_from_dict`. All problems of the file are
collected and raised together as one `CrontabError` naming the file and each line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from raftcron.errors import ConfigError, RaftcronError
from raftcron.model import job_from_dict
from raftcron.model.job import DURATION_LIMITS

#: The classic macros; `@every`/`@at` are raftcron's own and not crontab syntax.
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: The variables that configure the job rather than its environment.
TZ_VARS = ("CRON_TZ", "TZ")
MAILTO = "MAILTO"
RANDOM_DELAY = "RANDOM_DELAY"

_ENV_RE = re.compile(r"""\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1\s*=\s*(.*?)\s*""")
_DIRECTIVE_RE = re.compile(r"#\s*raftcron:\s*(.*)")
_NAME_OK = re.compile(r"[^A-Za-z0-9._-]+")
# An unescaped `%`: one not preceded by a backslash.
_BARE_PERCENT = re.compile(r"(?<!\\)%")


@dataclass(frozen=True)
class LineError:
    """One refused line: `line` is 1-based."""

    line: int
    message: str


class CrontabError(ConfigError):
    """A crontab that does not import. `errors` lists every refused line, in file order."""

    def __init__(self, file: str, errors: list[LineError]) -> None:
        self.errors = list(errors)
        text = "\n".join(f"{file}:{e.line}: {e.message}" for e in self.errors)
        super().__init__(text, field="crontab")
        self.file = file


@dataclass(frozen=True)
class CrontabJob:
    """One job of the crontab: its source line number and its job resource (docs/api.md)."""

    line: int
    body: dict[str, Any]


@dataclass
class _Env:
    """The assignments seen so far (they apply to the lines after them)."""

    env: dict[str, str] = field(default_factory=dict)
    tz: str | None = None
    mailto: list[str] = field(default_factory=list)
    jitter: str | None = None


def default_prefix(file: str) -> str:
    """The file's stem made into a job-name prefix (`/etc/cron.d/php` -> `php`)."""
    stem = _NAME_OK.sub("-", PurePath(file).stem).strip("-._")
    return stem or "crontab"


def is_system_crontab(file: str) -> bool:
    """Whether `file` is in the system format (a user field): /etc/crontab or /etc/cron.d/*."""
    path = PurePath(file)
    return str(path) == "/etc/crontab" or PurePath("/etc/cron.d") in path.parents


def parse_crontab(text: str, *, file: str = "crontab", user_field: bool = False,
                  prefix: str | None = None, tz: str | None = None) -> list[CrontabJob]:
    """Parse and validate a whole crontab; raise `CrontabError` listing every bad line.

    `tz` is the zone of jobs before any `CRON_TZ`/`TZ` line (None: the API's default, UTC).
    """
    prefix = default_prefix(file) if prefix is None else prefix
    state = _Env(tz=tz)
    errors: list[LineError] = []
    jobs: list[CrontabJob] = []
    names: dict[str, int] = {}
    pending_name: tuple[int, str] | None = None
    ordinal = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        directive = _DIRECTIVE_RE.fullmatch(line)
        if directive:
            pending_name = None
            try:
                pending_name = (number, _directive_name(directive.group(1)))
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
            continue
        named, pending_name = pending_name, None
        if not line or line.startswith("#"):
            continue
        env = _ENV_RE.fullmatch(raw)
        if env and not line.startswith("@"):
            problem = _assign(state, env.group(2), _unquote(env.group(3)))
            if problem:
                errors.append(LineError(number, problem))
            continue
        ordinal += 1
        name = named[1] if named else f"{prefix}-{ordinal}"
        try:
            body = _job(line, name=name, state=state, user_field=user_field)
            body["description"] = f"imported from {file} line {number}"
            job_from_dict(body)
        except RaftcronError as exc:
            errors.append(LineError(number, _describe(exc)))
            continue
        if name in names:
            errors.append(LineError(number, f"job name {name!r} is already used on line "
                                            f"{names[name]}"))
            continue
        names[name] = number
        jobs.append(CrontabJob(number, body))
    if errors:
        raise CrontabError(file, errors)
    return jobs


def _describe(exc: RaftcronError) -> str:
    message = exc.message
    if exc.field and exc.field not in message:
        message = f"{exc.field}: {message}"
    return message


def _directive_name(text: str) -> str:
    key, sep, value = text.strip().partition("=")
    if not sep or key.strip() != "name" or not value.strip():
        raise ValueError(f"expected '# raftcron: name=NAME', got {text.strip()!r}")
    return value.strip()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _assign(state: _Env, name: str, value: str) -> str | None:
    """Apply one assignment; a message when it is refused."""
    if name in TZ_VARS:
        if not value:
            state.tz = None
            return None
        try:
            # Validate through the job model, so the zone rules are the API's own.
            job_from_dict({"name": "tz-check", "schedule": "@daily", "command": "true",
                           "tz": value})
        except RaftcronError as exc:
            return f"{name}: {_describe(exc)}"
        state.tz = value
    elif name == MAILTO:
        state.mailto = [a.strip() for a in value.split(",") if a.strip()]
    elif name == RANDOM_DELAY:
        if not (value.isascii() and value.isdigit()):
            return f"{RANDOM_DELAY}: expected a whole number of minutes, got {value!r}"
        # The job's jitter bound, checked here on the text: int() of thousands of digits fails.
        most = DURATION_LIMITS["jitter"] // timedelta(minutes=1)
        if len(value.lstrip("0")) > len(str(most)) or int(value) > most:
            return f"{RANDOM_DELAY}: at most {most} minutes (the jitter bound), got {value!r}"
        state.jitter = f"{int(value)}m" if int(value) else None
    else:
        state.env[name] = value
    return None


def _job(line: str, *, name: str, state: _Env, user_field: bool) -> dict[str, Any]:
    """One job line -> the job resource. Raises `ConfigError` for a malformed line."""
    want = 1 if line.startswith("@") else 5
    want += 1 if user_field else 0
    words = line.split(None, want)
    if len(words) <= want:
        what = "a macro" if line.startswith("@") else "five schedule fields"
        user = ", a user" if user_field else ""
        raise ConfigError(f"expected {what}{user} and a command, got {line!r}")
    if line.startswith("@"):
        schedule = words[0]
        if schedule == "@reboot":
            raise ConfigError("@reboot is not supported: raftcron has no boot event "
                              "(run it from the host's init system instead)")
        if schedule not in MACROS:
            raise ConfigError(f"unknown macro {schedule!r} (expected one of "
                              f"{', '.join(MACROS)})")
        fields = [schedule]
    else:
        fields = words[:5]
        fields[0] = fields[0].removeprefix("-")  # cronie's "do not log" flag
        schedule = " ".join(fields)
    rest = words[len(fields):]
    command = rest[-1].strip()
    if _BARE_PERCENT.search(command):
        raise ConfigError("command: an unescaped '%' (cron's newline/stdin marker) cannot be "
                          "imported; write '\\%' for a literal percent sign")
    body: dict[str, Any] = {"name": name, "schedule": schedule,
                            "command": command.replace("\\%", "%")}
    if user_field:
        body["user"] = rest[0]
    if state.tz:
        body["tz"] = state.tz
    if state.env:
        body["env"] = dict(state.env)
    if state.mailto:
        body["notify"] = {"on": ["failure"], "email": list(state.mailto)}
    if state.jitter:
        body["jitter"] = state.jitter
    return body
