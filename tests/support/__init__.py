"""What the tests share (no tests here; pytest collects only `test_*.py`). See tests/README.md.

- `wait`: `wait_until` / `wait_until_async`, the one way a test waits (poll with a deadline).
- `paths`: the repository, tests/data and tests/golden.
- `ports`: free loopback ports.
- `markers`: a tier's conftest marks the tests under its directory.
- `records`: job bodies and `fire` run records.
- `fake_node`: `FakeNode`, the Raft node's surface over a real `StateMachine`.
- `state`: `Log`, commands fed to a real `StateMachine` in index order.
- `schedules`: plain stand-ins for schedules and jitter (planner and scheduler tests).
- `placement`: peers and a `choose_targets` call with defaults (the placement tables).
- `api`: `LiveApi`, the real aiohttp app served over a fake node and real SQLite.
- `scheduler`, `worker`: the scheduler's and the worker's harnesses.
- `executor_contract`: the suite every `Executor` passes.
- `sshd`: a real OpenSSH sshd on an ephemeral loopback port.
- `cluster`, `cluster_jobs`: real raftcron processes (`Cluster`, `Peer`) and job helpers.
"""
