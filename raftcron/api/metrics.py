"""`GET /metrics` in the Prometheus text exposition format (version 0.0.4).

Runs by status and runs in flight per peer come from this peer's copy of the state; the Raft
numbers from `Node.status()`. The fire lag histogram is the scheduler's, when it provides one
through `extra_status()["fire_lag"]` as `{"buckets": {"0.1": n, ..., "+Inf": n}, "sum": s,
"count": n}` (cumulative counts, seconds).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from raftcron.api.http import Request, Response, text_response

_ROLES = ("leader", "follower", "candidate")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return "0"


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: Any, **labels: Any) -> None:
        if labels:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {_num(value)}")
        else:
            self.lines.append(f"{name} {_num(value)}")


def render(self_id: str, status: dict, by_status: dict, active: list, extra: dict) -> str:
    """The whole exposition text (pure: every input is a parameter)."""
    out = _Text()
    out.family("raftcron_runs", "gauge", "Runs in this peer's copy of the state, by status.")
    for name, count in sorted((by_status or {}).items()):
        out.sample("raftcron_runs", count, status=name)
    out.family("raftcron_runs_in_flight", "gauge", "Pending or running runs, by executing peer.")
    in_flight = Counter(r.get("peer") for r in active or () if isinstance(r, dict))
    peers = [p.get("id") for p in status.get("peers") or () if isinstance(p, dict)]
    for peer in sorted({self_id, *filter(None, peers), *filter(None, in_flight)}):
        out.sample("raftcron_runs_in_flight", in_flight.get(peer, 0), peer=peer)
    out.family("raftcron_raft_role", "gauge", "1 for this peer's current Raft role.")
    for role in _ROLES:
        out.sample("raftcron_raft_role", status.get("role") == role, role=role)
    out.family("raftcron_raft_has_leader", "gauge", "1 when this peer knows a leader.")
    out.sample("raftcron_raft_has_leader", bool(status.get("leader")))
    for key, help_text in (("term", "Current Raft term."),
                           ("commit_index", "Raft commit index known to this peer."),
                           ("applied_index", "Last index applied to this peer's state.")):
        out.family(f"raftcron_raft_{key}", "gauge", help_text)
        out.sample(f"raftcron_raft_{key}", status.get(key) or 0)
    lag = max(0, int(status.get("commit_index") or 0) - int(status.get("applied_index") or 0))
    out.family("raftcron_apply_lag", "gauge", "Committed entries not yet applied here.")
    out.sample("raftcron_apply_lag", lag)
    out.family("raftcron_peer_reachable", "gauge", "1 when the peer is connected.")
    for p in status.get("peers") or ():
        if isinstance(p, dict) and p.get("id"):
            out.sample("raftcron_peer_reachable", bool(p.get("reachable")), peer=p["id"])
    hist = extra.get("fire_lag")
    if isinstance(hist, dict) and isinstance(hist.get("buckets"), dict):
        out.family("raftcron_fire_lag_seconds", "histogram",
                   "Delay between a slot's due time and its fire, on the leader.")
        buckets = hist["buckets"]

        def bound(item: tuple[Any, Any]) -> float:
            return float("inf") if str(item[0]) == "+Inf" else float(item[0])

        for le, count in sorted(buckets.items(), key=bound):
            out.sample("raftcron_fire_lag_seconds_bucket", count, le=le)
        if "+Inf" not in {str(k) for k in buckets}:
            out.sample("raftcron_fire_lag_seconds_bucket", hist.get("count", 0), le="+Inf")
        out.sample("raftcron_fire_lag_seconds_sum", hist.get("sum", 0))
        out.sample("raftcron_fire_lag_seconds_count", hist.get("count", 0))
    return "\n".join(out.lines) + "\n"


async def get_metrics(rt: Any, req: Request) -> Response:
    """`GET /metrics` -> Prometheus text."""

    def gather(read: Any) -> tuple[dict, list]:
        return read.status_counts(), read.active_runs()

    by_status, active = await rt.db(gather, rt.ctx.read)
    extra = (rt.ctx.extra_status() or {}) if rt.ctx.extra_status is not None else {}
    text = render(rt.ctx.self_id, rt.status(), by_status, active, extra)
    return text_response(text, content_type=CONTENT_TYPE)
