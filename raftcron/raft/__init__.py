"""Raft: the pysyncobj node, its transport and snapshots, and the hand-off to asyncio.

The only importer of pysyncobj. May import: `raftcron.state`, `raftcron.db`, `raftcron.model`,
`raftcron.config` and the base modules. Modules: `node` (the peer's Raft node: propose, status,
leadership, applied-index waits), `syncobj` (the SyncObj subclass), `transport` (the keepalive
TCP transport), `snapshots` (the raft data beside a SQLite snapshot), `waiters` (futures on the
asyncio loop resolved from the raft thread), `membership` (members added and removed at
runtime, the member file, `--join`'s question).
"""
