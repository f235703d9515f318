"""Free loopback ports: for the stack's preflight check and for tests that need a port of their own."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free loopback port *below* the kernel's ephemeral range.

    Ports the kernel hands out for port 0 come from the ephemeral range, which client sockets
    also use as their source ports; a server that stops and starts again on such a port can find
    it briefly held by some unrelated outgoing connection. Below the range that cannot happen.
    """
    low, _ = _ephemeral_range()
    lower = 20000 if low > 21000 else 10000
    upper = max(lower + 1000, low - 1)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(lower, upper)
        if port_is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
