"""Properties of apply over random sequences of well-formed commands: it never raises, two
copies stay identical, a slot fired once is never fired again, and a terminal run stays
terminal."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from raftcron.db.reader import ReadDb
from raftcron.model import TERMINAL_STATUSES
from raftcron.model.commands import encode
from raftcron.state.machine import StateMachine

JOBS = ["a", "b"]
RUNS = [f"r{i}" for i in range(8)]
PEERS = ["p1", "p2"]
TIMES = [f"2024-05-01T10:0{m}:00Z" for m in range(6)] + ["2024-05-01T10:00:00.5Z"]

_name = st.sampled_from(JOBS)
_run = st.sampled_from(RUNS)
_time = st.sampled_from(TIMES)
_peer = st.sampled_from(PEERS)

_record = st.fixed_dictionaries({
    "run_id": _run, "job": _name, "slot": _time, "peer": _peer, "fired_at": _time,
    "attempt": st.integers(1, 2), "target": st.sampled_from([None, "n1", "n2"]),
    "status": st.sampled_from(["pending", "pending", "skipped", "missed"]),
    "manual": st.booleans(), "retry_of": st.sampled_from([None, None, "r0", "r1"]),
})

_commands = st.one_of(
    st.builds(lambda n, p, m: ("put_job", {"job": {"name": n, "paused": p, "max_runs": m},
                                           "at": TIMES[0]}),
              _name, st.booleans(), st.sampled_from([None, 1, 3])),
    st.builds(lambda n: ("delete_job", {"name": n, "at": TIMES[0]}), _name),
    st.builds(lambda n, p: ("set_paused", {"name": n, "paused": p, "at": TIMES[1]}),
              _name, st.booleans()),
    st.builds(lambda n: ("finish_job", {"name": n, "at": TIMES[1]}), _name),
    st.builds(lambda rs: ("fire", {"runs": rs, "at": TIMES[0]}),
              st.lists(_record, min_size=1, max_size=4)),
    st.builds(lambda r, p: ("run_started", {"run_id": r, "peer": p, "at": TIMES[2]}),
              _run, _peer),
    st.builds(lambda r, s: ("run_finished", {"run_id": r, "status": s, "at": TIMES[3]}),
              _run, st.sampled_from(["succeeded", "failed", "timed_out", "cancelled"])),
    st.builds(lambda r: ("run_lost", {"run_id": r, "at": TIMES[3]}), _run),
    st.builds(lambda r: ("cancel_run", {"run_id": r, "at": TIMES[3]}), _run),
    st.builds(lambda rs: ("prune_runs", {"run_ids": rs}), st.lists(_run, max_size=3)),
)
_entries = st.lists(st.tuples(_commands, st.sampled_from([None, "k1", "k2", "k3"])),
                    min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(entries=_entries)
def test_state_random_sequences_keep_the_invariants(entries) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        one = StateMachine(Path(tmp) / "one.db")
        two = StateMachine(Path(tmp) / "two.db")
        read = ReadDb(Path(tmp) / "one.db")
        fired: set[tuple[str, str, int, str | None]] = set()
        terminal: set[str] = set()
        keys: set[str] = set()
        try:
            for index, ((op, args), key) in enumerate(entries, start=1):
                payload = encode(op, args, key)
                result = one.apply(index, payload)
                assert two.apply(index, payload) == result
                replayed = key in keys  # a reused key answers with the first result
                if key is not None:
                    keys.add(key)
                if op == "delete_job" and result.get("ok") and not replayed:
                    fired = {f for f in fired if f[0] != args["name"]}
                if op == "fire" and "accepted" in result and not replayed:
                    by_id = {r["run_id"]: r for r in args["runs"]}
                    for run_id in result["accepted"]:
                        r = by_id[run_id]
                        if r["manual"] or r["retry_of"]:
                            continue
                        ident = (r["job"], r["slot"], r["attempt"], r["target"])
                        assert ident not in fired, f"slot fired twice: {ident}"
                        fired.add(ident)
                for run_id in terminal:
                    run = read.get_run(run_id)
                    assert run is None or run["status"] in TERMINAL_STATUSES
                terminal |= {r["id"] for r in read.list_runs(limit=1000)[0]
                             if r["status"] in TERMINAL_STATUSES}
            assert one.dump() == two.dump()
        finally:
            read.close()
            one.close()
            two.close()
