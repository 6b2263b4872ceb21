"""The satellites the hub knows, and who drives each over Wyoming: the hub or Home Assistant, never both.

A satellite serves one Wyoming client at a time. The hub connects only to satellites it
drives; one handed to Home Assistant keeps its MQTT side (entities, metrics, commands) but the
hub leaves its Wyoming port alone. The choice comes from ``[satellites]`` in the settings and
from ``driver`` commands; a command's choice is kept in the hub's store, so it survives a
restart (and wins over the settings until the next command).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hub.conversation.session import SatelliteSession
from hub.settings import SatelliteEntry
from protocol.payloads import SatelliteAnnounce, SatelliteDriver

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
"""How long a switch to the hub waits for the satellite to accept the hub's connection."""


class SatelliteRegistry:
    def __init__(self, entries: list[Any], stored: dict[str, Any] | None,
                 on_change: Callable[[dict[str, Any]], None] = lambda state: None) -> None:
        # Callers that build settings with model_copy(update=...) skip validation: accept plain URIs too.
        self.entries = [e if isinstance(e, SatelliteEntry) else SatelliteEntry.model_validate(SatelliteEntry.parse(e))
                        for e in entries]
        self._chosen: dict[str, SatelliteDriver] = {}
        self.uris: dict[str, str] = {}
        """Satellite id -> its Wyoming address, as last announced or seen on connect."""
        for satellite, chosen in (stored or {}).items():
            try:
                self._chosen[satellite] = SatelliteDriver(chosen["driver"])
                if chosen.get("uri"):
                    self.uris[satellite] = str(chosen["uri"])
            except (KeyError, TypeError, ValueError):
                _LOGGER.warning("ignoring stored driver %r for %s", chosen, satellite)
        self._on_change = on_change
        self.announced: dict[str, SatelliteAnnounce] = {}
        """Satellites that speak MQTT, as they describe themselves (absent: a stock satellite)."""

    def learn(self, announce: SatelliteAnnounce) -> None:
        self.announced[announce.satellite] = announce
        self.uris[announce.satellite] = announce.wyoming_uri

    def entry_for(self, satellite: str | None, uri: str | None) -> SatelliteEntry | None:
        for entry in self.entries:
            if satellite is not None and entry.id == satellite:
                return entry
        for entry in self.entries:
            if uri is not None and entry.uri == uri:
                return entry
        return None

    def driver(self, satellite: str | None, uri: str | None = None) -> SatelliteDriver:
        """A command's choice (by id, or by the address a chosen satellite was last seen at), else the settings."""
        if satellite is None and uri is not None:
            satellite = next((s for s in self._chosen if self.uris.get(s) == uri), None)
        if satellite is not None and satellite in self._chosen:
            return self._chosen[satellite]
        entry = self.entry_for(satellite, uri)
        return entry.driver if entry is not None else SatelliteDriver.HUB

    def choose(self, satellite: str, driver: SatelliteDriver) -> SatelliteDriver:
        """Record a command's choice; returns the driver it replaces."""
        before = self.driver(satellite, self.uris.get(satellite))
        self._chosen[satellite] = driver
        self._on_change(self.state())
        if before is not driver:
            _LOGGER.info("satellite %s: now driven by %s (was %s)", satellite, driver.value, before.value)
        return before

    def uri_of(self, satellite: str) -> str | None:
        if satellite in self.uris:
            return self.uris[satellite]
        entry = self.entry_for(satellite, None)
        return entry.uri if entry is not None else None

    def known_ids(self) -> set[str]:
        return ({e.id for e in self.entries if e.id is not None} | set(self._chosen) | set(self.uris)
                | set(self.announced))

    def state(self) -> dict[str, Any]:
        return {satellite: {"driver": driver.value, "uri": self.uris.get(satellite)}
                for satellite, driver in sorted(self._chosen.items())}


@dataclass(frozen=True)
class SwitchOutcome:
    ok: bool
    code: str | None
    message: str


class RefusalSeen(Protocol):
    """A link being made (:class:`hub.adapters.satellite_link.SatelliteLink`): what the satellite said if it refused."""

    refusal: str | None


class Drivers(Protocol):
    """What a driver switch needs of the hub: its satellites, their links, their discovery."""

    @property
    def registry(self) -> SatelliteRegistry: ...

    @property
    def sessions(self) -> Mapping[str, SatelliteSession]: ...

    def known_satellites(self) -> set[str]: ...

    async def release_satellite(self, satellite: str) -> None: ...

    async def drive_satellite(self, satellite: str, uri: str, *, take_over: bool = False) -> RefusalSeen: ...

    def clear_link_problem(self, satellite: str) -> None: ...

    def publish_satellite(self, satellite: str) -> None:
        """Discovery and link state for Home Assistant."""


async def switch_driver(hub: Drivers, satellite: str, driver: SatelliteDriver, *, take_over: bool = False,
                        timeout_s: float = CONNECT_TIMEOUT_S) -> SwitchOutcome:
    """The ``driver`` command: hand ``satellite`` to Home Assistant, or have the hub drive it."""
    registry = hub.registry
    uri = registry.uri_of(satellite)
    if satellite not in hub.known_satellites():  # a typo must not leave a ghost device in Home Assistant
        return SwitchOutcome(False, "unknown_satellite", f"no satellite {satellite!r} is known: it has not announced "
                                                         "itself, connected, or been named in [satellites]")
    if driver is SatelliteDriver.HOME_ASSISTANT:
        registry.choose(satellite, driver)
        await hub.release_satellite(satellite)
        hub.clear_link_problem(satellite)
        hub.publish_satellite(satellite)
        where = f" at {uri}" if uri else ""
        return SwitchOutcome(True, None, f"the hub no longer connects to {satellite}; add it{where} to Home "
                                         "Assistant's Wyoming integration")
    if uri is None:
        return SwitchOutcome(False, "unknown_satellite", f"no Wyoming address known for {satellite!r}: it has not "
                                                         "announced itself and [satellites] gives no uri")
    registry.choose(satellite, driver)
    session = hub.sessions.get(satellite)
    if session is not None and session.connected:
        hub.publish_satellite(satellite)
        return SwitchOutcome(True, None, f"the hub already drives {satellite}")
    if take_over:
        _LOGGER.warning("satellite %s: taking it over from whoever drives it now (command)", satellite)
    link = await hub.drive_satellite(satellite, uri, take_over=take_over)
    link.refusal = None  # only what the satellite says from now on counts (the link retries within 5 s)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        session = hub.sessions.get(satellite)
        if session is not None and session.connected:
            hub.publish_satellite(satellite)
            return SwitchOutcome(True, None, f"the hub drives {satellite}" + (" (taken over)" if take_over else ""))
        if link.refusal is not None:
            return SwitchOutcome(False, "satellite_busy",
                                 f"{satellite} refused the hub: {link.refusal}. Remove it from Home Assistant's "
                                 "Wyoming integration, or send the command again with take_over")
        await asyncio.sleep(0.05)
    return SwitchOutcome(False, "unreachable", f"no Wyoming connection to {satellite} at {uri} within "
                                               f"{timeout_s:.0f} s; the hub keeps trying")
