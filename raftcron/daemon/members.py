"""The member set a peer starts from: its data dir's, else the one `--join` learns, else `--peers`.

Members change at runtime (`raftcron peers add/remove`, raft/membership.py), and every peer
saves the latest set in `<data_dir>/members.json`. A restart starts from that file, whatever
`--peers` says, so `--peers` only seeds a brand-new data dir. A new peer, added first and
then started with `--join HOST:PORT`, asks that member for the set, and waits (a while) until
it is in it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from raftcron.config.cluster import API_PORT_OFFSET, parse_peer_address
from raftcron.config.daemon import DaemonSettings
from raftcron.errors import ConfigError, UnavailableError
from raftcron.raft.membership import fetch_members, load_members

log = logging.getLogger(__name__)

#: Seconds `--join` keeps asking (the member may be restarting, or electing a leader).
JOIN_PATIENCE = 30.0


async def starting_members(settings: DaemonSettings) -> list[str]:
    """The members to create the node with (this peer included); `ConfigError` (exit 2) when
    this peer is not one of them."""
    s = settings
    saved = load_members(Path(s.data_dir))
    if saved is not None:
        if s.self_id not in saved:
            raise ConfigError(f"{s.self_id} was removed from the cluster (members: "
                              f"{', '.join(saved)}); to bring it back, add it with "
                              "`raftcron peers add` and start it on an empty data dir with "
                              "--join", field="--self")
        if sorted(saved) != sorted(s.peers) and not s.join:
            log.info("members from %s/members.json: %s (--peers is only the first seed)",
                     s.data_dir, ", ".join(saved))
        return saved
    if not s.join:
        return list(s.peers)
    members = await _ask(s.join, s.secret, s.self_id)
    log.info("joining: members %s (learned from %s)", ", ".join(members), s.join)
    return members


async def _ask(join: str, secret: str | None, self_id: str) -> list[str]:
    """The members, once they include `self_id`; asked again every half second for
    `JOIN_PATIENCE` seconds (the member may be restarting, or this peer not added yet)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + JOIN_PATIENCE
    warned = False
    while True:
        try:
            members = await loop.run_in_executor(
                None, lambda: fetch_members(join, secret=secret))
        except UnavailableError as exc:
            if loop.time() >= deadline:
                raise ConfigError(exc.message, field="--join") from None
        else:
            if self_id in members:
                return members
            if loop.time() >= deadline:
                raise ConfigError(f"--join: {self_id} is not a member of the cluster "
                                  f"({', '.join(members)}); add it first: raftcron peers "
                                  f"add {self_id}", field="--join")
            if not warned:
                log.warning("--join: %s is not a member yet (add it: raftcron peers add %s); "
                            "waiting up to %gs", self_id, self_id, JOIN_PATIENCE)
                warned = True
        await asyncio.sleep(0.5)


def default_api(peer: str) -> str:
    """A member's API base URL until it announces its own: raft port + 1000, same host."""
    host, port = parse_peer_address(peer, field="peers")
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port + API_PORT_OFFSET}"
