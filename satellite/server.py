"""The satellite's Wyoming server: the hub (or Home Assistant) connects here, as to wyoming-satellite."""

from __future__ import annotations

import asyncio
import logging

from wyoming.error import Error

from common.wyoming_peer import WyomingPeer
from protocol.framing import stream_limit
from satellite.core import SatelliteCore
from satellite.settings import WyomingSettings

_LOGGER = logging.getLogger(__name__)


class WyomingServer:
    def __init__(self, settings: WyomingSettings, core: SatelliteCore) -> None:
        self.settings = settings
        self.core = core
        self.port = settings.port
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.settings.host, self.settings.port,
                                                  limit=stream_limit())
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("Wyoming satellite server on %s:%d", self.settings.host, self.port)

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
        host = (writer.get_extra_info("peername") or ("?",))[0]
        peer = WyomingPeer(reader, writer, f"hub {host}")
        try:
            if self.settings.allow and host not in self.settings.allow:
                self.refused += 1
                _LOGGER.warning("refused Wyoming connection from %s: not in the allow list", host)
                await peer.send(Error(text="not allowed", code="not_allowed").event())
                return
            await self.core.serve_hub(peer)
        finally:
            await peer.close()
            self._connections.discard(task)
