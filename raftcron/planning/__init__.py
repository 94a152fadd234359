"""Planning: the leader's decisions as pure functions with table tests.

No clock, no I/O, no state: every input is a parameter (`now` included). May import:
`raftcron.schedule`, `raftcron.model` and the base modules. Used by the scheduler and the API.
Modules: `job_plan` (the typed planning view of a job), `slots` (which slots are due and what
becomes of each), `concurrency` (allow/forbid/replace/queue and the catch-up line), `placement`
(which peer and node get a run), `recovery` (retries, leases, pruning), `proposals` (decisions
into run records and the `fire` command with its idempotency key), `dependencies` (after,
on_failure, pause on failure, backfill slots), `trigger_proposals` (those decisions as
version-4 commands).
"""
