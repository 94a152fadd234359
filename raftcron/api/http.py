"""Framework-free request and response types for the API's handlers.

`app.py` adapts aiohttp to these, so each resource module is a set of plain async
functions `(Runtime, Request) -> Response` that can be read without knowing aiohttp.
Query parameters are validated here with errors that name the parameter; their bounds are
the constants below, which `/openapi.json` states too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from raftcron import codec
from raftcron.durations import parse_time
from raftcron.errors import RaftcronError, ValidationError

#: Largest page a list returns, and the page size when `limit` is not given.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_KEY_LENGTH = 200
#: The largest log index (`min_index`): SQLite's and Raft's indices are signed 64-bit.
MAX_INDEX = 2**63 - 1
#: Longest `?min_index=` / `?timeout=` wait a client may ask for, in seconds.
MAX_WAIT = 60.0
_INTEGER = re.compile(r"-?[0-9]+")


class HttpError(RaftcronError):
    """An error that is about HTTP itself (auth, size, media type, route): carries a status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.headers = dict(headers or {})


class Role(IntEnum):
    """What a request's token proves, lowest first (`api/auth.py` decides it)."""

    ANONYMOUS = 0
    READER = 1
    WRITER = 2
    ADMIN = 3


@dataclass(frozen=True)
class Request:
    """One request, already authenticated and with its JSON body parsed (or None)."""

    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]
    body: Any = None
    #: What the caller's token proves (`api/auth.py`).
    role: Role = Role.ANONYMOUS
    #: The name of the caller's token (None: no token): what logs and the audit history show.
    actor: str | None = None

    @property
    def admin(self) -> bool:
        """The caller presented the admin token."""
        return self.role is Role.ADMIN

    @property
    def sees_secrets(self) -> bool:
        """The caller presented a valid token (read, write or admin): a job's `env` values
        are shown to it; to anyone else they are redacted."""
        return self.role >= Role.READER

    def arg(self, name: str) -> str | None:
        """The last value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[-1] if values else None

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name) or ())

    def int_arg(self, name: str, *, default: int | None = None, minimum: int = 0,
                maximum: int | None = None) -> int | None:
        """Query parameter `name` as an integer within [minimum, maximum], else 400."""
        text = self.arg(name)
        if text is None or text == "":
            return default
        # Plain ASCII digits only: int() would also take "1_000", " 7 " and other scripts'
        # digits. A number of thousands of digits is out of range without parsing it.
        if not _INTEGER.fullmatch(text):
            raise ValidationError(
                f"{name}: expected an integer, got {text[:40]!r}", field=name
            )
        huge = len(text.lstrip("-").lstrip("0")) > 20
        value = 0 if huge else int(text)
        if huge or value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            got = text[:40] + ("..." if len(text) > 40 else "")
            raise ValidationError(f"{name}: must be {bound}, got {got}", field=name)
        return value

    def float_arg(self, name: str, *, default: float, maximum: float) -> float:
        text = self.arg(name)
        if text is None or text == "":
            return default
        try:
            value = float(text)
        except ValueError:
            raise ValidationError(f"{name}: expected a number, got {text!r}", field=name) from None
        if not 0 <= value <= maximum:
            raise ValidationError(f"{name}: must be between 0 and {maximum}", field=name)
        return value

    def time_arg(self, name: str) -> datetime | None:
        text = self.arg(name)
        if text is None or text == "":
            return None
        return parse_time(text, field=name)

    def limit(self) -> int:
        value = self.int_arg("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        assert value is not None
        return value

    def choice_arg(self, name: str, choices: Sequence[str]) -> str | None:
        text = self.arg(name)
        if text is None or text == "":
            return None
        if text not in choices:
            raise ValidationError(
                f"{name}: {text!r} is not one of {', '.join(choices)}", field=name
            )
        return text

    def label_arg(self) -> str | None:
        """`label=key:value` (also `key=value`; a bare `key`: the label is present) -> the
        `key=value` / `key` form the job queries take; None when not given."""
        label = self.arg("label")
        if label is None or label == "":
            return None
        key, sep, value = label.partition(":")
        if sep and "=" not in key:
            label = f"{key}={value}"
        if label.startswith(("=", ":")):
            raise ValidationError(f"label: expected 'key:value', got {label!r}", field="label")
        return label

    def idempotency_key(self) -> str | None:
        """The `Idempotency-Key` header: a retry with the same key never applies twice."""
        key = self.headers.get("Idempotency-Key")
        if key is None:
            return None
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
            raise ValidationError(
                f"Idempotency-Key: expected 1 to {MAX_KEY_LENGTH} printable ASCII characters",
                field="Idempotency-Key",
            )
        return key

    def object_body(self) -> dict[str, Any]:
        """The body as a JSON object; 400 naming the body otherwise."""
        if self.body is None:
            raise ValidationError("body: a JSON object is required", field="body")
        if not isinstance(self.body, dict):
            kind = type(self.body).__name__
            raise ValidationError(f"body: expected a JSON object, got {kind}", field="body")
        return self.body


@dataclass
class Response:
    """A JSON value (dict/list), text, bytes, or an open binary file (streamed, then closed),
    with a status and extra headers."""

    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and not self.content_type.startswith("application/json"):
            return self.body.encode("utf-8")
        return codec.encode(self.body)


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(status=status, body=body, headers=dict(headers))


def text_response(text: str, content_type: str = "text/plain; charset=utf-8",
                  status: int = 200) -> Response:
    return Response(status=status, body=text, content_type=content_type)


def page(items: list, next_cursor: str | None) -> dict[str, Any]:
    """The shape of every list (docs/api.md)."""
    return {"items": items, "next_cursor": next_cursor}
