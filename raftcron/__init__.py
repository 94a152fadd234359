"""raftcron: a distributed cron daemon on Raft (pysyncobj) with a SQLite copy on every peer."""

from __future__ import annotations

__version__ = "0.1.0"

from raftcron.logs import silence_known_noise as _silence_known_noise

_silence_known_noise()
