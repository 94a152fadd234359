"""Notify: failure, recovery, success, missed and dead man's switch notifications.

Sent by the leader only. May import: `raftcron.db`, `raftcron.config`, `raftcron.model`,
`raftcron.schedule` and the base modules. Modules: `decisions` (pure: which events and what the
messages say), `audience` (which jobs may have someone to tell), `sender` (webhooks and email,
off the event loop's critical path).
"""
