"""The satellite's Wyoming server: the hub (or Home Assistant) connects here, as to wyoming-satellite.

Wyoming has no authentication, and whoever drives a satellite hears its microphone, so the port
serves only its owner: an allow list that, when not configured, holds this machine and the MQTT
broker's host (where the hub runs); and one driver at a time (:meth:`SatelliteCore.serve_hub`).
The accept loop itself is :class:`common.wyoming_server.WyomingServer`.
"""

from __future__ import annotations

import logging

from common import wyoming_server
from common.wyoming_server import resolve
from satellite.core import SatelliteCore
from satellite.settings import WyomingSettings

_LOGGER = logging.getLogger(__name__)


class PortBusyError(RuntimeError):
    """The Wyoming port cannot be bound; one line for the person starting the satellite."""


class WyomingServer(wyoming_server.WyomingServer):
    def __init__(self, settings: WyomingSettings, core: SatelliteCore) -> None:
        super().__init__(settings.host, settings.port, core.serve_hub, label=lambda host: f"hub {host}",
                         logger=_LOGGER)
        self.settings = settings
        self.core = core

    async def _allow_list(self) -> frozenset[str] | None:
        allow = self.settings.allow
        if "any" in allow:
            return None
        if allow:
            return frozenset(await resolve(allow, _LOGGER))
        mqtt = self.core.settings.mqtt
        if not mqtt.enabled:
            _LOGGER.warning("Wyoming port open to every address: no [wyoming] allow and no MQTT broker to take "
                            "the hub's address from")
            return None
        return frozenset({"127.0.0.1", "::1"} | await resolve([mqtt.host], _LOGGER))

    async def start(self) -> None:
        self.allowed = await self._allow_list()
        try:
            await super().start()
        except OSError as err:
            raise PortBusyError(f"cannot listen for Wyoming on {self.settings.host}:{self.settings.port}: "
                                f"{err.strerror or err} (is another satellite running?)") from None
        _LOGGER.info("Wyoming satellite server on %s:%d, open to %s", self.settings.host, self.port,
                     "everyone" if self.allowed is None else ", ".join(sorted(self.allowed)))
