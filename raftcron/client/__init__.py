"""Client: a small typed HTTP client for the raftcron API, shared by the CLI and the tests.

Standard library only (urllib); may import the base modules. `raftcron.client.http` has the
code; the package re-exports it.
"""

from __future__ import annotations

from raftcron.client.http import (
    DEFAULT_API,
    MAX_BACKOFF,
    WRITE_ATTEMPTS,
    AuthError,
    Client,
    HttpStatusError,
    NotFoundError,
)

__all__ = ["DEFAULT_API", "MAX_BACKOFF", "WRITE_ATTEMPTS", "AuthError", "Client",
           "HttpStatusError", "NotFoundError"]
