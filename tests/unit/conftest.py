"""The unit tier: one process, real SQLite and real sockets on 127.0.0.1, no raftcron
subprocess cluster and no sshd. Grouped like raftcron/'s packages. Fast: run it whole."""
