"""systemd's notify protocol over its datagram socket: READY once, WATCHDOG while healthy.

No library needed: it is one ``sendto`` to ``$NOTIFY_SOCKET``. Outside systemd (no socket)
every call is a no-op, so the programs run the same way from a shell.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
        return True
    except OSError as err:
        _LOGGER.warning("cannot notify systemd at %s: %s", address, err)
        return False


def watchdog_interval() -> float | None:
    """Half the unit's WatchdogSec, as systemd recommends; None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.1, int(usec) / 2_000_000)
    except ValueError:
        return None


async def feed_watchdog(healthy: Callable[[], bool]) -> None:
    """Send WATCHDOG=1 while ``healthy()``; a stuck event loop stops feeding, so systemd restarts us."""
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        if healthy():
            notify("WATCHDOG=1")
        await asyncio.sleep(interval)
