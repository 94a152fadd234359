"""Job and node files, and distributed-cronjob's POST body -> model values.

Pure apart from reading the files it is given. Every refusal is a `ConfigError` that names
the file, the field and the problem (`jobs.d/backup.toml: retries: expected an integer ...`).

Formats:

- `.toml`: the job resource of docs/api.md as TOML tables (`[notify]`, `[env]`, ...). TOML
  offset date-times are accepted for `start_at`/`end_at`.
- `.json`: the same resource as JSON, or distcrond's job file (`description`, `owners`,
  `policy {hosts, roles}`, a six-field schedule or `{interval, reference}`, `command` argv).
  distcrond's README shows its files opening with a `# file: job1.json` line; JSON has no
  comments, but lines starting with `#` *before* the document begins are tolerated and
  skipped (never inside it), so those examples load as written.
- Node files: the flat node form or distcrond's (`roles`, `connection_type`,
  `connection_options {ssh_user, ssh_host, ssh_private_key_file}`).

A file gives the job or node its name with `name`; without one, the file's stem is the name
(`jobs.d/backup.json` -> `backup`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from raftcron.errors import ConfigError, ValidationError
from raftcron.model import Job, JobType, Node, job_from_dict, node_from_dict
from raftcron.model import checks as c

T = TypeVar("T", Job, Node)

SUFFIXES = (".toml", ".json")
#: `POST /jobs` bodies of distributed-cronjob: these keys are its own, the rest are ours.
DISTRIBUTED_CRONJOB_KEYS = ("executable", "type", "id")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def as_config_error(
    exc: ValidationError, *, file: str | Path | None, prefix: str = "",
) -> ConfigError:
    """Re-raise a validation error as a `ConfigError` of `file`, its field under `prefix`."""
    if isinstance(exc, ConfigError) and exc.file is not None:
        return exc
    field = c.sub(prefix, exc.field) if exc.field else (prefix or None)
    message = exc.message
    if exc.field and message.startswith(f"{exc.field}: "):
        message = message[len(exc.field) + 2:]
    text = f"{field}: {message}" if field else message
    return ConfigError(text, field=field, file=None if file is None else str(file))


def read_document(path: str | Path) -> dict[str, Any]:
    """Read a `.toml` or `.json` file into a table. ConfigError for anything else."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"unknown file type {path.suffix!r} (use .toml or .json)", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    if path.suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        data = json.loads(_drop_leading_comments(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object at the top", file=str(path))
    return data


def _drop_leading_comments(text: str) -> str:
    """Blank out `#` lines before the JSON begins (line numbers in errors stay right)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            lines[i] = ""
        elif stripped:
            break
    return "\n".join(lines)


def _named(path: Path, build: Callable[..., T], data: dict[str, Any]) -> T:
    """Build from a file's table; the stem is the name unless the file gives one."""
    try:
        if data.get("name") is None:
            if not c.NAME_RE.fullmatch(path.stem):
                raise c.fail("name", f"the file name {path.stem!r} is not a valid name; "
                                     "rename the file or set name in it")
            return build(data, name=path.stem)
        return build(data)
    except ValidationError as exc:
        raise as_config_error(exc, file=path) from None


def load_job_file(path: str | Path) -> Job:
    """A job from a `.toml` or `.json` file (ours or distcrond's)."""
    path = Path(path)
    return _named(path, job_from_dict, read_document(path))


def load_node_file(path: str | Path) -> Node:
    """A node from a `.toml` or `.json` file (ours or distcrond's)."""
    path = Path(path)
    return _named(path, node_from_dict, read_document(path))


def _load_dir(directory: str | Path, load: Callable[[Path], T], what: str) -> list[T]:
    return [item for item, _ in _load_dir_files(directory, load, what)]


def _load_dir_files(directory: str | Path, load: Callable[[Path], T],
                    what: str) -> list[tuple[T, Path]]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError("not a directory", field=f"{what}s_dir", file=str(directory))
    # Hidden files are editor droppings (`.#backup.toml`), never definitions.
    paths = sorted(p for p in directory.iterdir()
                   if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith("."))
    items: list[tuple[T, Path]] = []
    errors: list[ConfigError] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            item = load(path)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if item.name in seen:
            errors.append(ConfigError(
                f"name: {what} {item.name!r} is already defined in {seen[item.name]}",
                field="name", file=str(path)))
            continue
        seen[item.name] = path
        items.append((item, path))
    if errors:
        listing = "\n".join(f"  {e.message}" for e in errors)
        err = ConfigError(f"{len(errors)} {what} file(s) do not load:\n{listing}",
                          field=errors[0].field, file=str(directory))
        err.errors = errors  # type: ignore[attr-defined]  # every failure, for callers
        raise err
    return items


def load_jobs_dir(directory: str | Path) -> list[Job]:
    """Every `*.toml`/`*.json` job in `directory`, in file-name order.

    All files are tried; one `ConfigError` lists every bad file (its `errors` attribute holds
    them one by one). Two files defining the same job name are an error too.
    """
    return _load_dir(directory, load_job_file, "job")


def load_jobs_dir_files(directory: str | Path) -> list[tuple[Job, str]]:
    """`load_jobs_dir`, each job with the name of the file that defines it (relative to
    `directory`), for the `managed_by` marker of file-managed jobs."""
    return [(job, path.name) for job, path in _load_dir_files(directory, load_job_file, "job")]


def load_nodes_dir(directory: str | Path) -> list[Node]:
    """Every `*.toml`/`*.json` node in `directory`, in file-name order; errors as for jobs."""
    return _load_dir(directory, load_node_file, "node")


def is_distributed_cronjob_body(body: object) -> bool:
    """True for a distributed-cronjob POST body (it has `executable`), so an API can choose."""
    return isinstance(body, dict) and "executable" in body


def distributed_cronjob_name(body: dict[str, Any]) -> str:
    """The name of a job posted without `name`/`id`: `job-` + 12 hex of the body's sha256.

    The hash is over the canonical JSON of the body (sorted keys, no spaces), so the same
    body always gets the same name and posting it twice is a conflict, not a second job.
    """
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return "job-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def job_from_distributed_cronjob(body: Any) -> Job:
    """distributed-cronjob's `{executable, schedule, type, id?}` -> a `Job`.

    `type = "command"` (the default): `executable` is a string run by `/bin/sh -c`.
    `type = "script"|"binary"`: `executable` is the base64 content; a URL is refused, since
    raftcron never fetches from the network. The name is `name`, else `id`, else
    `distributed_cronjob_name(body)`. Any other key is read as a field of our job resource
    (so `tz`, `retries`, ... may be added); unknown keys are refused. Errors about the
    content name the field `executable`.
    """
    data = dict(c.mapping(body, "job"))
    executable = data.pop("executable", None)
    if executable is None:
        raise c.fail("executable", "needed: a command, or a base64 script or binary")
    jtype = c.choice(data.pop("type", None) or "command", JobType, "type")
    ident = data.pop("id", None)
    if ident is not None:
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        ident = c.name(ident, "id")
        if data.get("name") is not None and data["name"] != ident:
            raise c.fail("id", f"{ident!r} disagrees with name {data['name']!r}")
    name = data.get("name") or ident or distributed_cronjob_name(dict(body))
    executable = c.string(executable, "executable", max_len=8 * 1024 * 1024)
    data["type"] = jtype.value
    if jtype is JobType.COMMAND:
        data["command"] = executable
    else:
        if _URL_RE.match(executable.strip()):
            raise c.fail("executable", "a URL is not accepted (raftcron never downloads); "
                                       "upload the content as base64")
        data["script"] = executable
    try:
        return job_from_dict(data, name=name)
    except ValidationError as exc:
        if exc.field in ("command", "script") or (exc.field or "").startswith("command."):
            message = exc.message.split(": ", 1)[-1]
            raise c.fail("executable", message) from None
        raise
