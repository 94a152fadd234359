"""Free loopback ports (free when asked: whoever binds later may still lose a race)."""

from __future__ import annotations

import socket

#: A peer's API listens on its raft port + this (the daemon's convention for other peers).
API_OFFSET = 1000


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS just handed out for `host` (free at the time of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pair(taken: set[int]) -> int:
    """A raft port P with P and P + API_OFFSET both free and not in `taken`."""
    for _ in range(200):
        port = free_port()
        if port + API_OFFSET > 65535 or port in taken or port + API_OFFSET in taken:
            continue
        if port_is_free(port + API_OFFSET):
            return port
    raise RuntimeError("no free port pair found")


def free_port_outside(taken: set[int]) -> int:
    """A free port not in `taken` (which holds every raft port and raft port + 1000)."""
    for _ in range(200):
        port = free_port()
        if port not in taken:
            return port
    raise RuntimeError("no free port found")
