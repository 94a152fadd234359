"""Daemon: the composition root that wires one peer together, and its start-up seeding.

May import every layer below it; nothing imports it but `raftcron.cli`. Modules: `peer` (the
linear start-up and the teardown in reverse), `seed_files` (`--jobs-dir`/`--nodes-dir` files
into the replicated state).
"""
