"""`raftcron --peers ...`: run one peer (docs/api.md). Thin: flags -> settings -> Daemon.

Bad flags or config exit with status 2 and one line naming the problem (the dispatcher prints
`ConfigError`s); SIGTERM/SIGINT stop the peer with status 0.
"""

from __future__ import annotations

import argparse
import logging
import os

from raftcron.config.daemon import resolve_settings
from raftcron.logs import setup_logging


def add_arguments(parser: argparse.ArgumentParser, name: str | None) -> None:
    parser.epilog = ("The cluster secret and the API tokens come from RAFTCRON_SECRET, "
                     "RAFTCRON_TOKEN, RAFTCRON_READ_TOKEN and RAFTCRON_ADMIN_TOKEN (or the "
                     "config file), never from flags.")
    parser.add_argument("--peers", metavar="H:P,H:P,...",
                        help="raft addresses of every peer, this one included")
    parser.add_argument("--self", dest="self_id", metavar="H:P",
                        help="this peer's entry in --peers (found from local addresses if omitted)")
    parser.add_argument("--join", metavar="H:P",
                        help="raft address of any member: learn the members from it (a peer "
                             "added with `raftcron peers add`, started on a new data dir)")
    parser.add_argument("--api", metavar="H:P", help="API address (default: raft port + 1000)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where the state, journal and outputs live "
                             "(default ./raftcron-data/<host>_<port>)")
    parser.add_argument("--config", metavar="FILE", help="cluster config (TOML); flags override it")
    parser.add_argument("--roles", metavar="a,b", help="roles this peer carries")
    parser.add_argument("--capacity", type=int, metavar="N", help="runs this peer takes at once")
    parser.add_argument("--jobs-dir", metavar="DIR", help="job files proposed at start-up")
    parser.add_argument("--nodes-dir", metavar="DIR", help="node files proposed at start-up")
    parser.add_argument("--log-format", choices=("text", "json"), help="log line format")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"), help="log level")
    parser.add_argument("--insecure", action="store_true",
                        help="allow a non-loopback address without RAFTCRON_SECRET")
    parser.add_argument("--event-loop", choices=("auto", "asyncio", "uvloop"),
                        help="event loop: uvloop when installed (auto, the default), or "
                             "always the standard one (asyncio); also RAFTCRON_EVENT_LOOP")
    parser.add_argument("--allow-privileged-jobs", action="store_true",
                        help="without an admin token, let any writer create jobs that run as "
                             "root or as another user (refused by default)")


def run(args: argparse.Namespace) -> int:
    settings = resolve_settings(
        peers=args.peers, self_id=args.self_id, api=args.api, data_dir=args.data_dir,
        config=args.config, roles=args.roles, capacity=args.capacity, jobs_dir=args.jobs_dir,
        nodes_dir=args.nodes_dir, log_format=args.log_format, insecure=args.insecure,
        allow_privileged_jobs=args.allow_privileged_jobs, join=args.join,
    )
    setup_logging(settings.log_format, peer=settings.self_id,
                  level=getattr(logging, args.log_level.upper()),
                  secrets=(settings.secret, settings.token, settings.admin_token,
                           settings.read_token, settings.notify.webhook_secret,
                           *(t.value for t in settings.named_tokens)))
    # Imported here so `raftcron --help` and flag errors stay fast.
    from raftcron.daemon import loops
    from raftcron.daemon.peer import Daemon

    choice = args.event_loop or os.environ.get(loops.ENV) or "auto"
    loop_name = loops.loop_name(choice)  # a bad choice exits 2 before anything starts

    async def main() -> int:
        logging.getLogger("raftcron.daemon").info("event loop: %s", loop_name)
        return await Daemon(settings).run()

    return loops.run(main(), loop_name)
