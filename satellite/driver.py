"""The Wyoming connection of the client that drives this satellite (our hub, or Home Assistant).

One driver at a time: while the current one is alive (heard from within ``DRIVER_IDLE_S``), a second
connection is refused with a Wyoming ``error`` (code ``already_driven``) instead of taking the
microphone; ``[wyoming] takeover`` makes the newest connection win instead. What the driver's events
mean is :class:`satellite.core.SatelliteCore`'s business; this module only owns the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Info, Satellite

from common.log_limit import LogLimiter
from common.wyoming_peer import WyomingPeer
from satellite import __version__
from satellite.settings import SatelliteSettings

_LOGGER = logging.getLogger(__name__)

DRIVER_IDLE_S = 60.0
"""A driver heard from within this long keeps the satellite (our hub pings every 5 s); after it, a
new connection may replace a driver whose connection died without closing."""


def satellite_info(settings: SatelliteSettings, wake_word: str) -> Info:
    """The answer to ``describe``: who this satellite is, where, and that it has its own VAD and wake word."""
    attribution = Attribution(name="hearth", url="https://github.com/hearth-voice")
    return Info(satellite=Satellite(
        name=settings.id, attribution=attribution, installed=True, description=settings.name or settings.id,
        version=__version__, area=settings.area or settings.id, has_vad=True,
        active_wake_words=[wake_word], max_active_wake_words=1, supports_trigger=True,
    ))


class HubDriver:
    """Holds the driver's connection: accepts or refuses a new one, sends to it, drops it."""

    def __init__(self, settings: SatelliteSettings) -> None:
        self.settings = settings
        self.peer: WyomingPeer | None = None
        self.refused = 0
        self._heard = 0.0
        self._log = LogLimiter(_LOGGER)
        self._background: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return self.settings.name or self.settings.id

    async def serve(self, peer: WyomingPeer, handle: Callable[[Event], Awaitable[None]],
                    on_connected: Callable[[], None], on_lost: Callable[[], None]) -> None:
        """Run ``peer``'s connection until it closes, each event through ``handle``; or refuse it."""
        old = self.peer
        if old is not None:
            silent_s = time.monotonic() - self._heard
            takeover = self.settings.wyoming.takeover
            if not (takeover or old.closed or silent_s > DRIVER_IDLE_S):
                self.refused += 1
                self._log.warning("second driver", "refused %s: driven by %s (heard %.0f s ago)", peer.label,
                                  old.label, silent_s)
                with contextlib.suppress(ConnectionError):
                    await peer.send(Error(text=f"{self.name} is driven by {old.label}", code="already_driven").event())
                return
            _LOGGER.info("%s replaces %s (%s)", peer.label, old.label,
                         "takeover" if takeover else f"silent for {silent_s:.0f} s")
            self.peer = None
            await old.close()
        self.peer, self._heard = peer, time.monotonic()
        on_connected()
        _LOGGER.info("hub connected: %s", peer.label)
        try:
            while (event := await peer.read()) is not None:
                self._heard = time.monotonic()
                try:
                    await handle(event)
                except Exception:  # a bad event from the hub must not drop the connection
                    _LOGGER.exception("failed to handle %s from the hub", event.type)
        finally:
            if self.peer is peer:
                self.peer = None
                on_lost()

    async def send(self, event: Event) -> None:
        """To the driver, if there is one; a connection closing meanwhile is logged, not raised."""
        peer = self.peer
        if peer is None:
            return
        try:
            await peer.send(event)
        except ConnectionError:
            _LOGGER.info("hub connection closed while sending %s", event.type)

    def send_soon(self, event: Event) -> None:
        """Send from synchronous code (a callback, a setter); the task is kept until it is done."""
        if self.peer is None:
            return
        task = asyncio.ensure_future(self.send(event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drop(self, reason: str) -> str | None:
        """A deliberate take-over (a ``take_over`` command): close the current driver's connection so the
        next one is accepted; returns who was dropped."""
        peer = self.peer
        if peer is None or peer.closed:
            return None
        _LOGGER.warning("dropping %s: %s", peer.label, reason)
        await peer.close()  # serve's loop ends and the core pauses until the next driver runs it
        return peer.label

    async def close(self) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            with contextlib.suppress(Exception):
                await peer.close()
