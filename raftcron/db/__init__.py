"""DB: the peer's SQLite copy of the replicated state. The only importer of sqlite-utils.

May import: `raftcron.model` and the base modules. Modules: `sqlite` (schema, version, pragmas,
the writer and read-only connections), `reader` (`ReadDb`: `call` on a reader thread,
`quick` on the loop), `queries` (the typed read queries), `paging` (a list's limit, cursor
and status filter), `view_queries` (the API's job views, one statement each), `times` (the
fixed-width time form stored in SQLite), `snapshot` (an online backup to a file and its
restore by atomic swap).
"""
