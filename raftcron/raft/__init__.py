"""The pysyncobj adapter: the only package that imports pysyncobj.

- `syncobj`: the `SyncObj` subclass with the one replicated entry point, and its configuration.
- `transport`: pysyncobj's TCP transport with a keepalive and per-peer last-contact times.
- `snapshots`: log compaction with the SQLite copy as the snapshot (serializer hooks).

`raftcron.node` builds its asyncio surface on these and never touches pysyncobj itself.
"""
