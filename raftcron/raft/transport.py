"""pysyncobj's TCP transport with a keepalive and per-peer last-contact times.

Two things the stock transport lacks:

- Idle connections die. Followers never talk to each other, so their connection reads nothing
  and is dropped after `connectionTimeout`; when the leader then dies, the first vote request
  goes out on that dead socket and is lost, costing a whole extra election round. Every peer
  here sends a tiny keepalive on each open connection every `keepalive_interval` seconds, and
  swallows the ones it receives.
- Gossip. Each peer announces a small dict about itself (its roles and capacity) with every
  keepalive and right after each handshake; `peer_meta(peer_id)` is the last one heard. The
  leader's placement uses it; nothing replicated depends on it.
- Pipelining. With batching off, the leader sends each entry as soon as it is appended and
  moves its `nextIndex` for the follower past it at once. pysyncobj then sets `nextIndex` back
  to "acknowledged + 1" on every acknowledgement, so under concurrent writes it re-sends entries
  still in flight; the follower truncates its log to take them again (logging CRITICAL about
  "truncating already-applied entries", harmless since the leader's entries are the same, but
  wasteful). A successful acknowledgement here never moves `nextIndex` backwards; a gap (a
  dropped connection) is still repaired by the follower's reset answer, which passes through
  untouched.
- Clocks. Every keepalive carries the sender's wall time and echoes, for the addressee, the
  wall time of the last keepalive it received from it and when it arrived: NTP's exchange on
  messages already sent (`raftcron.raft.clocks`). `clock_offset(peer_id)` is the estimate of
  that peer's clock minus this one's.
- Liveness. `last_contact(peer_id)` is the monotonic time the peer last sent us anything (an
  append_entries answer, a vote, a keepalive). On the leader that is "when the follower last
  answered"; the node's leader lease and `reachable` are built on it.
- A guard on the listening port. pysyncobj keeps an accepted connection that never speaks
  forever (it checks timeouts only when the socket has an event) and listens with a backlog
  of 5, so anyone who reaches the port could hold every file descriptor without knowing the
  secret. Here an incoming connection must finish pysyncobj's handshake (with a secret: send
  a frame encrypted with it, then a member's address) within `handshake_timeout` seconds or
  it is closed; at most `max_pending` are left unauthenticated at once (a new one beyond that
  is closed at once, before it costs more than its accept); the backlog is `listen_backlog`.

Runs entirely in pysyncobj's thread, except the two read-only accessors, which only read a dict
entry (atomic under the GIL).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from pysyncobj.tcp_connection import CONNECTION_STATE
from pysyncobj.transport import TCPTransport

from raftcron.raft.clocks import SAMPLE_TTL, OffsetEstimator

log = logging.getLogger(__name__)

KEEPALIVE_TYPE = "raftcron_keepalive"
#: Seconds an incoming connection has to complete pysyncobj's handshake.
HANDSHAKE_TIMEOUT = 3.0
#: Incoming connections allowed to be mid-handshake at once (peers need one each).
MAX_PENDING = 64
#: The listening socket's backlog (pysyncobj's is 5).
LISTEN_BACKLOG = 128


class KeepaliveTransport(TCPTransport):
    """`TCPTransport` + keepalive + last-contact bookkeeping. Configure with `configure()`."""

    #: Set by `configure` before the SyncObj is created (the SyncObj builds the transport).
    keepalive_interval: float = 0.5
    announce: dict[str, Any] | None = None
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    max_pending: int = MAX_PENDING
    listen_backlog: int = LISTEN_BACKLOG

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any) -> None:
        self._last_contact: dict[str, float] = {}
        self._peer_meta: dict[str, dict[str, Any]] = {}
        self._clocks: dict[str, OffsetEstimator] = {}
        # peer id -> (its wall time in the last keepalive from it, our wall time on receipt).
        self._echo: dict[str, tuple[float, float]] = {}
        self._clockless: set[str] = set()
        #: Clock samples taken so far: what has been judged from them is still the judgement
        #: while this has not moved (`ClockGuard.judge_now`).
        self.clock_samples = 0
        #: While True (a leader handing over leadership), append_entries are not sent, so
        #: the followers' election timers run out. Set from the raft thread only.
        self.mute_append_entries = False
        self._last_keepalive = 0.0
        # Peers whose handshake is complete: a keepalive sent before the key exchange would
        # break the encrypted framing, so only these get one.
        self._handshaken: set[Any] = set()
        # Incoming connections not yet authenticated -> when they were accepted.
        self._pending_since: dict[Any, float] = {}
        self._backlog_set = False
        self.refused_connections = 0
        self.expired_handshakes = 0
        super().__init__(syncObj, selfNode, otherNodes)

    @classmethod
    def configure(cls, keepalive_interval: float,
                  announce: dict[str, Any] | None = None) -> type[KeepaliveTransport]:
        """A subclass bound to one interval and announcement (pysyncobj takes a class)."""
        attrs = {"keepalive_interval": keepalive_interval, "announce": dict(announce or {})}
        return type("KeepaliveTransportBound", (cls,), attrs)

    def _keepalive(self, node: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"type": KEEPALIVE_TYPE, "meta": self.announce or {}}
        echo = self._echo.get(node.id)
        if echo is not None:
            message["echo"] = list(echo)
        message["wall"] = time.time()  # last: as close to the send as can be
        return message

    def _on_clock(self, peer_id: str, message: dict[str, Any]) -> None:
        received, mono = time.time(), time.monotonic()
        sent = message.get("wall")
        if not isinstance(sent, int | float) or isinstance(sent, bool):
            self._clockless.add(peer_id)  # an older release: no clock in its keepalive
            return
        self._clockless.discard(peer_id)
        self.clock_samples += 1
        self._echo[peer_id] = (float(sent), received)
        est = self._clocks.get(peer_id)
        if est is None:
            # Samples outlive a few keepalive periods, however long those are configured.
            ttl = max(SAMPLE_TTL, 4 * self.keepalive_interval)
            est = self._clocks[peer_id] = OffsetEstimator(ttl=ttl)
        echo = message.get("echo")
        if (isinstance(echo, list) and len(echo) == 2
                and all(isinstance(v, int | float) for v in echo)):
            est.add_ntp(float(echo[0]), float(echo[1]), float(sent), received, mono)
        else:
            est.add_one_way(float(sent), received, mono)

    def send(self, node: Any, message: Any) -> bool:
        if (self.mute_append_entries and isinstance(message, dict)
                and message.get("type") == "append_entries"):
            return True  # withheld on purpose: the connection is fine
        return bool(super().send(node, message))

    # --- pysyncobj hooks (raft thread) -------------------------------------------------------

    def _onMessageReceived(self, node: Any, message: Any) -> None:
        self._last_contact[node.id] = time.monotonic()
        if isinstance(message, dict) and message.get("type") == KEEPALIVE_TYPE:
            meta = message.get("meta")
            if isinstance(meta, dict):
                self._peer_meta[node.id] = meta
            self._on_clock(node.id, message)
            return
        if (isinstance(message, dict) and message.get("type") == "next_node_idx"
                and message.get("success") and not message.get("reset")):
            next_index = getattr(self._syncObj, "_SyncObj__raftNextIndex", {})
            before = next_index.get(node)
            super()._onMessageReceived(node, message)
            after = next_index.get(node)
            if before is not None and after is not None and after < before:
                next_index[node] = before
            return
        super()._onMessageReceived(node, message)

    def _onNodeConnected(self, node: Any) -> None:
        # A fresh connection is contact too: the handshake was an answer.
        self._last_contact[node.id] = time.monotonic()
        self._handshaken.add(node)
        super()._onNodeConnected(node)
        # Announce at once, so a new leader knows its peers' roles before it places a run.
        self.send(node, self._keepalive(node))

    def _onNodeDisconnected(self, node: Any) -> None:
        self._handshaken.discard(node)
        super()._onNodeDisconnected(node)

    def _maybeBind(self) -> None:
        super()._maybeBind()
        if self._ready and not self._backlog_set and self._server is not None:
            # A second listen() on a listening socket only changes its backlog (Linux, BSD).
            sock = getattr(self._server, "_TcpServer__socket", None)
            if isinstance(sock, socket.socket):
                sock.listen(self.listen_backlog)
            self._backlog_set = True

    def _onNewIncomingConnection(self, conn: Any) -> None:
        if len(self._unknownConnections) >= self.max_pending:
            # No callbacks are set on it yet: this only closes the socket.
            conn.disconnect()
            self.refused_connections += 1
            if self.refused_connections in (1, 10, 100) or self.refused_connections % 1000 == 0:
                log.warning("raft port: %d unauthenticated connections pending; refused one "
                            "(%d so far)", self.max_pending, self.refused_connections)
            return
        self._pending_since[conn] = time.monotonic()
        super()._onNewIncomingConnection(conn)

    def _expire_handshakes(self, now: float) -> None:
        pending = self._unknownConnections
        for conn in list(self._pending_since):
            if conn not in pending:
                del self._pending_since[conn]  # authenticated, or already closed
            elif now - self._pending_since[conn] > self.handshake_timeout:
                del self._pending_since[conn]
                self.expired_handshakes += 1
                conn.disconnect()  # pysyncobj's callback drops it from _unknownConnections
                pending.discard(conn)

    def _onTick(self) -> None:
        super()._onTick()
        now = time.monotonic()
        self._expire_handshakes(now)
        if now - self._last_keepalive < self.keepalive_interval:
            return
        self._last_keepalive = now
        for node in list(self._handshaken):
            conn = self._connections.get(node)
            if conn is not None and conn.state == CONNECTION_STATE.CONNECTED:
                self.send(node, self._keepalive(node))

    # --- read from any thread ----------------------------------------------------------------

    def last_contact(self, peer_id: str) -> float | None:
        """Monotonic time of the last message from `peer_id`, or None if never."""
        return self._last_contact.get(peer_id)

    def clock_offset(self, peer_id: str) -> float | None:
        """`peer_id`'s wall clock minus this one's in seconds (None: not measured lately)."""
        est = self._clocks.get(peer_id)
        return None if est is None else est.estimate(time.monotonic())

    def sends_no_clock(self, peer_id: str) -> bool:
        """`peer_id` runs an older release whose keepalives carry no wall time."""
        return peer_id in self._clockless

    def peer_meta(self, peer_id: str) -> dict[str, Any]:
        """What `peer_id` last announced about itself ({} if nothing yet)."""
        return self._peer_meta.get(peer_id, {})
