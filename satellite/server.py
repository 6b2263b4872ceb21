"""The satellite's Wyoming server: the hub (or Home Assistant) connects here, as to wyoming-satellite.

Wyoming has no authentication, and whoever drives a satellite hears its microphone, so the port
serves only its owner: an allow list that, when not configured, holds this machine and the MQTT
broker's host (where the hub runs); and one driver at a time (:meth:`SatelliteCore.serve_hub`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from wyoming.error import Error

from common.log_limit import LogLimiter
from common.wyoming_peer import WyomingPeer
from protocol.framing import stream_limit
from satellite.core import SatelliteCore
from satellite.settings import WyomingSettings

_LOGGER = logging.getLogger(__name__)


class PortBusyError(RuntimeError):
    """The Wyoming port cannot be bound; one line for the person starting the satellite."""


class WyomingServer:
    def __init__(self, settings: WyomingSettings, core: SatelliteCore) -> None:
        self.settings = settings
        self.core = core
        self.port = settings.port
        self.refused = 0
        self._log = LogLimiter(_LOGGER)
        self.allowed: frozenset[str] | None = None
        """Addresses that may connect; None: everyone."""
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def _allow_list(self) -> frozenset[str] | None:
        allow = self.settings.allow
        if "any" in allow:
            return None
        if allow:
            return frozenset(await _resolve(allow))
        mqtt = self.core.settings.mqtt
        if not mqtt.enabled:
            _LOGGER.warning("Wyoming port open to every address: no [wyoming] allow and no MQTT broker to take "
                            "the hub's address from")
            return None
        return frozenset({"127.0.0.1", "::1"} | await _resolve([mqtt.host]))

    async def start(self) -> None:
        self.allowed = await self._allow_list()
        try:
            self._server = await asyncio.start_server(self._accept, self.settings.host, self.settings.port,
                                                      limit=stream_limit())
        except OSError as err:
            raise PortBusyError(f"cannot listen for Wyoming on {self.settings.host}:{self.settings.port}: "
                                f"{err.strerror or err} (is another satellite running?)") from None
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("Wyoming satellite server on %s:%d, open to %s", self.settings.host, self.port,
                     "everyone" if self.allowed is None else ", ".join(sorted(self.allowed)))

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
        host = _normal(str((writer.get_extra_info("peername") or ("?",))[0]))
        peer = WyomingPeer(reader, writer, f"hub {host}")
        try:
            if self.allowed is not None and host not in self.allowed:
                self.refused += 1
                self._log.warning("not allowed", "refused Wyoming connection from %s: not in the allow list", host)
                await peer.send(Error(text="not allowed", code="not_allowed").event())
                return
            await self.core.serve_hub(peer)
        except asyncio.CancelledError:
            # Only close() cancels this task, and it is the connection's outermost frame: ending it here
            # keeps asyncio's stream server from logging the cancellation as an error (a stop while Home
            # Assistant was connected printed a CancelledError traceback).
            _LOGGER.debug("%s: closed by shutdown", peer.label)
        finally:
            await peer.close()
            self._connections.discard(task)


async def _resolve(names: list[str]) -> set[str]:
    """Addresses for host names (and addresses as they are); a name that does not resolve is logged and skipped."""
    addresses: set[str] = set()
    loop = asyncio.get_running_loop()
    for name in names:
        try:
            infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError as err:
            _LOGGER.warning("Wyoming allow list: cannot resolve %r (%s); it cannot connect until a restart", name, err)
            continue
        addresses |= {_normal(str(info[4][0])) for info in infos}
    return addresses


def _normal(address: str) -> str:
    """One spelling per address: IPv4 seen through an IPv6 socket (::ffff:a.b.c.d) as plain IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
