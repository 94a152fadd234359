"""State: the deterministic state machine, `apply(index, command) -> result` into SQLite.

May import: `raftcron.db`, `raftcron.model` and the base modules; never a clock or a random
source (the proposer decides every time, id and choice and carries it in the command).
Modules: `machine` (the dispatcher, its transaction and the applied index), `jobs` and `runs`
(the commands on each table; the fence lives in `runs`), `results` (the result vocabulary),
`triggers` (the version-4 ops: trigger, backfill, pause_reason, run_slow).
"""
