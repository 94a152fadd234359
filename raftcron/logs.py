"""Logging for the daemon: one line per event, human text by default or JSON.

`setup_logging(format, peer=...)` installs one stderr handler on the root logger (so
pysyncobj's and aiohttp's loggers go through it too). Every line is a single line: a
traceback is folded into it with escaped newlines. Secrets never reach the output: the
values given to `setup_logging(secrets=...)` or `add_secret()` are replaced by `***` in the
finished line, whatever logger or argument carried them.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

REDACTED = "***"

#: Third-party warnings that say nothing an operator can act on, as (message regex, module
#: regex) pairs for `warnings.filterwarnings`. The one place such noise is silenced: newer
#: `cryptography` releases deprecate DSA, and asyncssh touches the DSA types at import.
KNOWN_NOISE: tuple[tuple[str, str], ...] = (
    (r"DSA is deprecated", r"asyncssh(\..*)?$"),
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

#: LogRecord attributes that are not user-supplied `extra=` fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def add_secret(value: str | None) -> None:
    """Redact `value` from every line logged from now on (short values are ignored: a
    three-letter "secret" would blank out ordinary words)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`2024-05-01T10:00:00.000Z INFO [127.0.0.1:7101] raftcron.raft.node: message key=value`."""

    def __init__(self, peer: str | None = None) -> None:
        super().__init__()
        self.peer = peer

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        peer = f" [{self.peer}]" if self.peer else ""
        line = f"{_timestamp(record)} {record.levelname}{peer} {record.name}: {message}"
        if extras:
            line += " " + extras
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info)
        elif record.stack_info:
            line += " | " + record.stack_info
        return redact(line.replace("\r", "\\r").replace("\n", "\\n"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, peer, msg, extra fields, exc."""

    def __init__(self, peer: str | None = None) -> None:
        super().__init__()
        self.peer = peer

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname,
                               "logger": record.name, "msg": record.getMessage()}
        if self.peer:
            doc["peer"] = self.peer
        for key, value in _extras(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(doc, default=str, ensure_ascii=False))


def silence_known_noise() -> None:
    """Ignore the warnings in `KNOWN_NOISE`. Called when the `raftcron` package is imported,
    so it is in force before any third-party import can warn."""
    for message, module in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=message, module=module)


def setup_logging(fmt: str = "text", *, peer: str | None = None, level: int = logging.INFO,
                  stream: IO[str] | None = None, secrets: Iterable[str | None] = ()) -> None:
    """Route every logger to one handler on `stream` (stderr) in `fmt` ("text" or "json")."""
    for secret in secrets:
        add_secret(secret)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(peer) if str(fmt) == "json" else TextFormatter(peer))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Any other Python warning becomes a log record on the `py.warnings` logger, so a JSON
    # log stays one JSON object per line whatever a library prints.
    logging.captureWarnings(True)
    # aiohttp's access log is one line per request: too chatty for a cron daemon's log.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
