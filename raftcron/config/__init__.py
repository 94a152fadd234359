"""Config: files and flags into model values. Pure apart from reading the files it is given.

May import: `raftcron.model`, `raftcron.schedule` and the base modules. Modules: `cluster` (the
cluster TOML file), `daemon` (flags + file + environment into one `DaemonConfig`), `files`
(job and node files, distcrond's and distributed-cronjob's formats included), `tuning` (Raft
timing settings), `crontab` (a classic crontab parsed into jobs).
"""
