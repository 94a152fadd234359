"""raftcron: a distributed cron daemon on Raft (pysyncobj) with a SQLite copy on every peer."""

from __future__ import annotations

__version__ = "0.1.0"
