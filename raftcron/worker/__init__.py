"""Worker: runs the runs that the replicated state assigns to this peer, and reports them.

Runs on every peer. May import: `raftcron.executor`, `raftcron.db`, `raftcron.model` and the
base modules. Modules: `runner` (takes applied `fire` records for this peer, starts them,
cancels, reports), `execution` (one taken run's path, from its record to its report),
`prepare` (record -> executor and `RunSpec`, one thread hop per batch,
dropping runs the copy no longer holds pending), `admission` (late runs: catch up, then start
only once `run_started` is committed),
`run_spec` (the pure part of that), `started_log` (the crash-safe log of runs started here),
`reports` (batched `run_started`/`run_finished` proposals), `output_retention` (output files
follow run retention), `success` (success rules: exit codes and output pattern).
"""
