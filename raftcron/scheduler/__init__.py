"""Scheduler: the leader's loop that fires schedules, with its job table and its passes.

Runs only on the leader. May import: `raftcron.planning`, `raftcron.raft` (through the
`LeaderNode` seam), `raftcron.db`, `raftcron.model`, `raftcron.schedule` and the base modules.
Modules: `loop` (the heap loop: sleep until the next slot, plan, propose), `table_load` (the
job table loaded from the copy for one leadership), `job_table` (the
in-memory table and heap, kept current from applied commands), `passes` (recovery and retention
passes), `cluster_view` (settings and the cluster as placement sees it), `node_health` (SSH node
health: every peer reports, the leader probes), `triggers` (dependencies, backfills, pause on
failure, slow runs).
"""
