"""Membership changes at runtime: pysyncobj's single-server changes, one at a time.

What pysyncobj does (0.3.17, `dynamicMembershipChange=True` on every peer): `addNodeToCluster`
/ `removeNodeFromCluster` append a MEMBERSHIP entry; every peer switches to the new member set
when the entry reaches its log (not when it commits), as Raft's single-server changes ask. The
leader refuses a second change while the first is uncommitted (REQUEST_DENIED) and refuses to
remove itself, so a leader that is to go first hands leadership over. A removed peer keeps its
old member list (pysyncobj never removes "self"), but the others close its connections: it
cannot disturb them, it merely stops hearing anything.

Where the member set lives. pysyncobj keeps it in its log and its dump (our snapshot's raft
data carries the member list), and replays both at start-up, but it starts from the addresses
it was constructed with. `<data_dir>/members.json` is this peer's latest member set, rewritten
(atomically) by the raft thread whenever it changes; a restart starts from it, so `--peers`
is only the seed of a brand-new data dir. A peer started with `--join` asks a member for the
member set over pysyncobj's utility port (`fetch_members`) before it creates its node.

The rule that refuses a change (`refuse_change`) is pure: adding a member or removing a
non-member is a conflict, and so is any change after which the reachable members would no
longer be a majority of the new set (the cluster would stop committing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pysyncobj.config import FAIL_REASON
from pysyncobj.utility import TcpUtility, UtilityException

from raftcron.config.cluster import parse_peer_address
from raftcron.errors import ConflictError, UnavailableError, ValidationError

log = logging.getLogger(__name__)

MEMBERS_FILE = "members.json"
MEMBERS_FILE_VERSION = 1
#: Gossip key: this peer's release can change membership (older peers lack it).
GOSSIP_KEY = "membership"
MEMBERSHIP_VERSION = 1
#: Seconds a refused change is retried (a new leader's first entry, a change in flight).
DENIED_RETRY = 3.0


def check_peer_id(text: Any) -> str:
    """`text` as a raft address `HOST:PORT`, else `ValidationError(field="id")`."""
    if not isinstance(text, str) or not text:
        raise ValidationError("id: expected a raft address HOST:PORT", field="id")
    parse_peer_address(text, field="id")
    return text


# --- the member set on disk --------------------------------------------------------------------

def load_members(data_dir: Path) -> list[str] | None:
    """The member set this peer last saw (None: a new data dir, or a file from nowhere)."""
    path = Path(data_dir) / MEMBERS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("ignoring %s: %s", path, exc)
        return None
    members = doc.get("members") if isinstance(doc, dict) else None
    if (doc.get("v") != MEMBERS_FILE_VERSION or not isinstance(members, list)
            or not members or not all(isinstance(m, str) for m in members)):
        log.error("ignoring %s: not a member list of version %d", path, MEMBERS_FILE_VERSION)
        return None
    return list(dict.fromkeys(members))


def save_members(data_dir: Path, members: Sequence[str]) -> None:
    """Replace `<data_dir>/members.json` atomically (a crash leaves the old or the new one)."""
    path = Path(data_dir) / MEMBERS_FILE
    part = path.with_name(path.name + ".part")
    body = json.dumps({"v": MEMBERS_FILE_VERSION, "members": sorted(members)}, indent=1)
    with open(part, "w", encoding="utf-8") as fh:
        fh.write(body + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(part, path)


def fetch_members(join: str, *, secret: str | None, timeout: float = 5.0) -> list[str]:
    """Ask the member at raft address `join` for the member set (pysyncobj's utility `status`).

    Raises `UnavailableError` when it cannot be asked (not running, wrong secret, not a peer).
    """
    try:
        status = TcpUtility(password=secret or None, timeout=timeout).executeCommand(
            join, ["status"])
    except (UtilityException, OSError) as exc:
        raise UnavailableError(f"--join {join}: no answer from that peer ({exc}); is it "
                               "running, and is RAFTCRON_SECRET the cluster's?",
                               field="--join") from None
    if not isinstance(status, dict) or "self" not in status:
        raise UnavailableError(f"--join {join}: the answer is not a raftcron peer's status",
                               field="--join")
    prefix = "partner_node_status_server_"
    members = [_node_id(status["self"])]
    members += [key[len(prefix):] for key in status if str(key).startswith(prefix)]
    return sorted(dict.fromkeys(members))


def _node_id(node: Any) -> str:
    return str(getattr(node, "id", node))


# --- the rule ----------------------------------------------------------------------------------

def refuse_change(op: str, peer: str, status: Mapping[str, Any]) -> str | None:
    """Why `op` ("add"/"remove") of `peer` must not be made now, or None (pure).

    `status` is a node status (`peers`: every member with `reachable`). The reasons are
    conflicts with the member set as it is (HTTP 409).
    """
    entries = [p for p in status.get("peers") or () if isinstance(p, Mapping) and p.get("id")]
    members = {str(p["id"]) for p in entries}
    reachable = {str(p["id"]) for p in entries if p.get("reachable") or p.get("self")}
    old = sorted(str(p["id"]) for p in entries if p.get(GOSSIP_KEY) is None and not
                 p.get("self") and p.get("reachable"))
    if old:
        return (f"peers {', '.join(old)} run a release without membership changes: "
                "upgrade every peer first")
    if op == "add":
        if peer in members:
            return f"{peer} is already a member"
        after, up = members | {peer}, reachable  # the new peer is not running yet
    else:
        if peer not in members:
            return f"{peer} is not a member"
        if len(members) == 1:
            return f"{peer} is the last member"
        after, up = members - {peer}, reachable - {peer}
    if len(up) * 2 <= len(after):
        return (f"after this change only {len(up)} of {len(after)} members would be "
                "reachable, not a majority: the cluster would stop; bring members back first")
    return None


# --- changes, bridged to asyncio ---------------------------------------------------------------

class Membership:
    """The member set of one peer and the changes it asks the leader to make.

    `tick()` runs in the raft thread (every tick): it notices a new member set, saves it and
    calls `on_change(members)`. `change()` runs on the asyncio loop.
    """

    def __init__(self, raft: Any, *, self_id: str, data_dir: Path, secret: str | None,
                 on_change: Callable[[list[str]], None]) -> None:
        self._raft = raft
        self.self_id = self_id
        self._data_dir = Path(data_dir)
        self._secret = secret
        self._on_change = on_change
        self._lock = asyncio.Lock()
        self._file_lock = threading.Lock()
        self._last: list[str] = []

    @property
    def members(self) -> list[str]:
        """Every member's raft address, this peer's included, sorted (read from any thread)."""
        others = [n.id for n in list(self._raft.otherNodes)]
        return sorted({self.self_id, *others})

    def tick(self) -> None:
        members = self.members
        if members == self._last:
            return
        first = not self._last
        self._last = members
        with self._file_lock:
            try:
                save_members(self._data_dir, members)
            except OSError:
                log.exception("saving the member set failed")
        if not first:
            log.warning("members now: %s", ", ".join(members))
        self._on_change(members)

    async def change(self, op: str, peer: str, *, leader: str | None,
                     timeout: float) -> list[str]:
        """Make the leader add or remove `peer`; return the member set once applied here.

        `ConflictError` when pysyncobj refuses (another change still uncommitted);
        `UnavailableError` without a leader or when `timeout` runs out (the change may still
        happen: read `members` again).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._lock:
            if op == "remove" and peer == leader:
                await self._move_leader(peer, deadline)
            # A new leader accepts changes only once its first entry committed, and any
            # leader only one uncommitted change at a time: a refusal is retried briefly.
            denied_until = min(deadline, loop.time() + DENIED_RETRY)
            while True:
                error = await self._submit(op, peer, deadline)
                if error != FAIL_REASON.REQUEST_DENIED or loop.time() >= denied_until:
                    break
                await asyncio.sleep(0.1)
            if error == FAIL_REASON.REQUEST_DENIED:
                raise ConflictError("the leader refused: another membership change is not "
                                    "committed yet; retry in a moment", field="id")
            if error != FAIL_REASON.SUCCESS:
                raise UnavailableError(f"the membership change failed ({_fail_name(error)}); "
                                       "GET /peers shows whether it happened")
            return [m for m in self.members if not (op == "remove" and m == peer)]

    async def _submit(self, op: str, peer: str, deadline: float) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()

        def done(_result: Any, error: int) -> None:  # raft thread
            loop.call_soon_threadsafe(_settle, future, error)

        submit = (self._raft.addNodeToCluster if op == "add"
                  else self._raft.removeNodeFromCluster)
        others = [m for m in self.members if m != self.self_id]
        submit(peer, callback=done)
        try:
            if op == "remove" and peer == self.self_id:
                # The others drop this peer's connections as soon as they store the entry, so
                # its callback may never come: a majority of them no longer listing it says
                # the entry is stored by a majority of the new member set, i.e. committed.
                # Its own election timer may then fail the callback (leader changed): only a
                # refusal or a success counts from there.
                confirm = asyncio.ensure_future(self._left(others, deadline))
                pending: set[asyncio.Future[Any]] = {future, confirm}
                try:
                    while pending:
                        finished, pending = await asyncio.wait(
                            pending, timeout=max(deadline - loop.time(), 0.1),
                            return_when=asyncio.FIRST_COMPLETED)
                        if not finished:
                            break
                        if future in finished and future.result() in (
                                FAIL_REASON.SUCCESS, FAIL_REASON.REQUEST_DENIED):
                            return future.result()
                        if confirm in finished:
                            if confirm.result():
                                return FAIL_REASON.SUCCESS
                            break
                finally:
                    confirm.cancel()
                raise TimeoutError
            return await asyncio.wait_for(future, max(deadline - loop.time(), 0.1))
        except TimeoutError:
            raise UnavailableError("the membership change was not confirmed in time; "
                                   "GET /peers shows whether it happened") from None

    async def _left(self, others: list[str], deadline: float) -> bool:
        """True once a majority of `others` no longer list this peer as a member."""
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            answers = await asyncio.gather(
                *(loop.run_in_executor(None, self._partners_of, m) for m in others))
            gone = sum(1 for partners in answers
                       if partners is not None and self.self_id not in partners)
            if gone * 2 > len(others):
                return True
            await asyncio.sleep(0.1)
        return False

    def _partners_of(self, member: str) -> list[str] | None:
        try:
            return fetch_members(member, secret=self._secret, timeout=1.0)
        except UnavailableError:
            return None

    async def _move_leader(self, leader: str, deadline: float) -> None:
        # The leader never removes itself: it hands leadership to its most caught-up
        # follower first (Raft TimeoutNow, asked over the utility port so any peer can ask).
        loop = asyncio.get_running_loop()
        utility = TcpUtility(password=self._secret or None, timeout=2.0)
        with contextlib.suppress(UtilityException, OSError):
            await loop.run_in_executor(None, utility.executeCommand, leader, ["transfer", ""])
        while loop.time() < deadline:
            node = self._raft._getLeader()
            if node is not None and node.id != leader:
                return
            await asyncio.sleep(0.05)
        raise UnavailableError(f"{leader} leads and could not hand leadership over; retry")


def _settle(future: asyncio.Future[int], error: int) -> None:
    if not future.done():
        future.set_result(error)


def _fail_name(error: int) -> str:
    names = {v: k.lower() for k, v in vars(FAIL_REASON).items() if k.isupper()}
    return names.get(error, str(error))
