"""Every Wyoming link from the hub to a satellite: which exist, who asked for them, why one cannot be made.

:class:`SatelliteLinks` owns one task per satellite address (configured, announced on MQTT, leased
to this hub, or driven on command) and cancels and awaits each one it drops. It decides nothing
about turns: a link hands its satellite's events to the session the composition root gives it.
A satellite that refuses the hub (another client drives it) is a *link problem*, reported once
per change; it is cleared when the satellite connects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from wyoming.info import Info

from hub.adapters.satellite_link import SatelliteLink
from hub.adapters.satellites import SatelliteRegistry
from hub.conversation.arbitration import Arbiter
from hub.conversation.event_data import SatelliteConnected, SatelliteDisconnected
from hub.conversation.events import ConversationEvent
from hub.conversation.session import SatelliteSession
from protocol.payloads import SatelliteAnnounce, SatelliteDriver

_LOGGER = logging.getLogger(__name__)

MAX_ANNOUNCED_SATELLITES = 64
"""Satellites learned from MQTT announcements (configured ones are not counted): each costs a task
and a connection, and an announce is cheap to send."""


class Leases(Protocol):
    """The part of :class:`hub.adapters.ownership.Ownership` a link needs: may this hub dial it now?"""

    def want(self, satellite: str, uri: str) -> bool: ...


class SatelliteLinks:
    def __init__(self, registry: SatelliteRegistry, arbiter: Arbiter, *,
                 session_for: Callable[[str, Info | None], SatelliteSession],
                 sessions: dict[str, SatelliteSession],
                 leases: Leases | None,
                 ask_to_drop_driver: Callable[[str], None],
                 on_control: Callable[[SatelliteSession], None],
                 report_problem: Callable[[str, str | None], None],
                 publish_link: Callable[[str], None],
                 release_in_background: Callable[[str], None]) -> None:
        self.registry = registry
        self._arbiter = arbiter
        self._session_for = session_for
        self._sessions = sessions
        self._leases = leases
        self._ask_to_drop_driver = ask_to_drop_driver
        """A ``take_over``: tell the satellite (MQTT) to drop the client that drives it now."""
        self._on_control = on_control
        self._report_problem = report_problem
        self._publish_link = publish_link
        self._release_in_background = release_in_background
        self.links: dict[str, SatelliteLink] = {}
        """Wyoming address -> its link (one per address)."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._announced: dict[str, str] = {}
        """Satellite id -> the Wyoming address it announced (one live link per announcing satellite)."""
        self.problems: dict[str, str] = {}
        """Satellite id (or address) -> why the hub cannot drive it (e.g. another client holds it)."""

    @property
    def alive(self) -> int:
        """Satellite connection tasks alive (configured plus announced)."""
        return sum(1 for task in self._tasks.values() if not task.done())

    def audio_dropped(self) -> int:
        return sum(getattr(link.peer, "audio_dropped", 0) for link in self.links.values() if link.peer is not None)

    # -- making and dropping links ----------------------------------------------------------
    def add(self, uri: str, expected_id: str | None = None, *, take_over: bool = False) -> None:
        if uri in self.links:
            return
        if self.registry.driver(expected_id, uri) is not SatelliteDriver.HUB:
            return  # Home Assistant drives it: the hub never dials it, whoever asks (a lease, an announce)
        if self._leases is not None and expected_id is not None and not self._leases.want(expected_id, uri):
            return  # leased to another live hub, or being claimed: on_owned links it once it is ours

        def take_over_from_driver() -> None:
            assert expected_id is not None
            _LOGGER.warning("satellite %s is driven by another client: asking it to drop that one (take-over)",
                            expected_id)
            self._ask_to_drop_driver(expected_id)

        link = SatelliteLink(uri, self._session_for, self._arbiter, expected_id=expected_id,
                             take_over=take_over_from_driver if take_over and expected_id else None,
                             on_refused=lambda text: self._refused(expected_id, uri, text),
                             on_control=self._on_control)
        self.links[uri] = link
        self._tasks[uri] = asyncio.create_task(link.run(), name=f"satellite-{uri}")

    async def drop(self, uri: str) -> None:
        self.links.pop(uri, None)
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        for uri in list(self._tasks):
            await self.drop(uri)

    async def learn(self, announce: SatelliteAnnounce) -> None:
        """An announce (its id already checked against its topic): connect to where it says it listens.

        One link per announcing satellite: a new address replaces the old link (no reconnect loop is
        left behind), an address another satellite owns is refused, and at most
        :data:`MAX_ANNOUNCED_SATELLITES` are learned.
        """
        satellite, uri = announce.satellite, announce.wyoming_uri
        self.registry.learn(announce)
        if self.registry.driver(satellite, uri) is not SatelliteDriver.HUB:
            await self.release(satellite)  # Home Assistant drives it: entities only
            uri = ""
        previous = self._announced.get(satellite)
        configured = {e.uri for e in self.registry.entries} | {
            u for u, link in self.links.items() if link.session is not None and link.session.id == satellite}
        if uri and uri != previous and uri not in configured:  # configured: already linked
            owner = next((s for s, u in self._announced.items() if u == uri), None)
            if owner is not None and owner != satellite:
                _LOGGER.warning("satellite %s announced %s, where %s is: ignored", satellite, uri, owner)
            elif previous is None and len(self._announced) >= MAX_ANNOUNCED_SATELLITES:
                _LOGGER.warning("satellite %s announced itself, but %d announced satellites is the limit: ignored",
                                satellite, MAX_ANNOUNCED_SATELLITES)
            else:
                if previous is not None:
                    _LOGGER.info("satellite %s moved from %s to %s", satellite, previous, uri)
                    await self.drop(previous)
                else:
                    _LOGGER.info("satellite %s announced itself at %s", satellite, uri)
                self._announced[satellite] = uri
                self.add(uri, expected_id=satellite)
        session = self._sessions.get(announce.satellite)
        if session is not None:
            session.name, session.area = announce.name, announce.area

    async def release(self, satellite: str) -> None:
        """Close every hub link to ``satellite`` (Home Assistant drives it now)."""
        uris = {u for u, link in self.links.items() if link.session is not None and link.session.id == satellite}
        uris |= {u for u in (self._announced.pop(satellite, None), self.registry.uri_of(satellite)) if u in self.links}
        for uri in uris:
            _LOGGER.info("satellite %s is driven by Home Assistant: the hub closes its link to %s", satellite, uri)
            await self.drop(uri)

    async def drive(self, satellite: str, uri: str, *, take_over: bool = False) -> SatelliteLink:
        """Link to ``satellite`` at ``uri`` (a fresh link when taking over)."""
        existing = self.links.get(uri)
        if existing is not None and not take_over:
            return existing
        if existing is not None:
            await self.drop(uri)
        if satellite in self.registry.announced:
            self._announced[satellite] = uri
        self.add(uri, expected_id=satellite, take_over=take_over)
        return self.links[uri]

    # -- link problems ------------------------------------------------------------------------
    def _refused(self, satellite: str | None, uri: str, text: str) -> None:
        """A satellite the hub should drive refuses it: another client (Home Assistant?) holds it."""
        satellite = satellite or next((s for s, u in self.registry.uris.items() if u == uri), None)
        who = satellite or uri
        problem = (f"satellite {who} refuses the hub ({text}): hand it to Home Assistant (its 'Driven by' "
                   "select) or take it over (driver command with take_over)")
        if self.problems.get(who) != problem:
            self.problems[who] = problem
            self._report_problem(f"satellite {who}", problem)
            if satellite is not None:
                self._publish_link(satellite)

    def clear_problem(self, satellite: str) -> None:
        if self.problems.pop(satellite, None) is not None:
            self._report_problem(f"satellite {satellite}", None)

    def on_event(self, event: ConversationEvent) -> None:
        """Bus subscriber: a satellite that connects is fine again (or is released if HA drives it now)."""
        if isinstance(event.data, SatelliteConnected):
            self.clear_problem(event.satellite)
            self.clear_problem(event.data.uri)
            self.registry.uris.setdefault(event.satellite, event.data.uri)
            if self.registry.driver(event.satellite) is not SatelliteDriver.HUB:
                self._release_in_background(event.satellite)
        if isinstance(event.data, SatelliteConnected | SatelliteDisconnected):
            self._publish_link(event.satellite)
