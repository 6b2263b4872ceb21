"""A Wyoming TCP server: the accept loop the hub's service, the satellite and the test satellites share.

Wyoming has no authentication, so who may connect is decided here, at accept, by address: an allow
list (None: everyone) and at most ``max_connections`` at a time; a refused peer gets an ``error``
event with a stable code (``not_allowed``, ``busy``) and is closed, counted in :attr:`refused`.
Each connection is a task this server owns: :meth:`close` cancels and awaits every one. Addresses
are compared in one spelling (:func:`normal_address`), so IPv4 seen through an IPv6 socket matches.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable

from wyoming.error import Error

from common.log_limit import LogLimiter
from common.wyoming_peer import WyomingPeer
from protocol.framing import stream_limit

_LOGGER = logging.getLogger(__name__)


class WyomingServer:
    def __init__(self, host: str, port: int, serve: Callable[[WyomingPeer], Awaitable[None]], *,
                 label: Callable[[str], str], allowed: Iterable[str] | None = None,
                 max_connections: int | None = None, logger: logging.Logger = _LOGGER) -> None:
        """``serve(peer)`` runs one connection; ``label(address)`` names it in logs; ``allowed``: the
        addresses that may connect (None: everyone)."""
        self.host = host
        self.port = port
        self._serve = serve
        self._label = label
        self.allowed: frozenset[str] | None = None if allowed is None else frozenset(map(normal_address, allowed))
        self.max_connections = max_connections
        self.refused = 0
        self._logger = logger
        self._log = LogLimiter(logger)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen; raises ``OSError`` when the address cannot be bound. Port 0 picks a free one (:attr:`port`)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=stream_limit())
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        host = normal_address(str((writer.get_extra_info("peername") or ("?",))[0]))
        peer = WyomingPeer(reader, writer, self._label(host))
        try:
            if self.allowed is not None and host not in self.allowed:
                self.refused += 1
                self._log.warning("not allowed", "refused Wyoming connection from %s: not in the allow list", host)
                await peer.send(Error(text="not allowed", code="not_allowed").event())
                return
            if self.max_connections is not None and len(self._connections) > self.max_connections:
                self.refused += 1
                self._log.warning("busy", "refused Wyoming connection from %s: %d connections already", host,
                                  self.max_connections)
                await peer.send(Error(text=f"at most {self.max_connections} connections", code="busy").event())
                return
            await self._serve(peer)
        except asyncio.CancelledError:
            # Only close() cancels this task, and it is the connection's outermost frame: ending it here
            # keeps asyncio's stream server from logging the cancellation as an error (Python 3.11; a stop
            # while Home Assistant was connected printed a CancelledError traceback).
            self._logger.debug("%s: closed by shutdown", peer.label)
        except Exception:
            self._logger.exception("%s: connection failed", peer.label)
        finally:
            await peer.close()
            self._connections.discard(task)


async def resolve(names: Iterable[str], logger: logging.Logger = _LOGGER) -> set[str]:
    """Addresses for host names (and addresses as they are); a name that does not resolve is logged and skipped."""
    addresses: set[str] = set()
    loop = asyncio.get_running_loop()
    for name in names:
        try:
            infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError as err:
            logger.warning("Wyoming allow list: cannot resolve %r (%s); it cannot connect until a restart", name, err)
            continue
        addresses |= {normal_address(str(info[4][0])) for info in infos}
    return addresses


def normal_address(address: str) -> str:
    """One spelling per address: IPv4 seen through an IPv6 socket (::ffff:a.b.c.d) as plain IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
