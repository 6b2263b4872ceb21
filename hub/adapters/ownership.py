"""Several hubs on one broker, exactly one driving each satellite: leases kept by the broker.

The broker is the only arbiter (no votes between hubs):

- A lease is the retained ``conversation/<id>/owner`` message (:class:`SatelliteOwner`) naming a hub.
- It is valid while that hub's own ``hubs/<hub>/availability`` says ``online``; that topic is the hub's
  MQTT last will, so the broker turns it ``offline`` when the hub dies (at once on a closed TCP
  connection such as a SIGKILL; after 1.5 keepalives when the machine vanishes) or stops.
- A hub that wants a satellite whose lease is missing or names an offline hub claims it after
  ``claim_delay_s`` plus a per-(hub, satellite) share of it (crc32), so two hubs seldom claim at once.
  The broker orders the claims on one topic and every subscriber sees them in that order, so the
  last claim is the lease everyone holds; a hub drives the satellite only when its own claim has
  stood for ``settle_s``.
- A live owner is never challenged: a hub that comes back finds its satellites leased to a live hub
  and leaves them (no flapping). A stopping hub clears its leases after closing its links.
- A hub that loses the broker for longer than ``grace_s`` lets its satellites go (its last will has
  told the others to take them, and the satellite accepts one driver only).

Failover time after a hub dies: broker detection (about 0.1 s for a killed process) + the claim delay
(``claim_delay_s`` to twice that) + ``settle_s`` + the new Wyoming connection; bench/failover.py measures it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable

from common.mqtt import MqttLink
from hub.remote.settings import HubsSettings
from protocol import codec
from protocol.payloads import Availability, SatelliteOwner
from protocol.topics import ConversationTopic, HubTopic, TopicError, Topics

_LOGGER = logging.getLogger(__name__)


class Ownership:
    def __init__(self, link: MqttLink, topics: Topics, hub_id: str, settings: HubsSettings,
                 on_owned: Callable[[str, str], None], on_lost: Callable[[str, str], None],
                 grace_s: float = 30.0) -> None:
        self.hub_id = hub_id
        self._link = link
        self._topics = topics
        self._settings = settings
        self._on_owned = on_owned
        self._on_lost = on_lost
        self._grace_s = grace_s
        self.leases: dict[str, SatelliteOwner] = {}
        self.alive: dict[str, bool] = {}
        self.wanted: dict[str, str] = {}
        """Satellite id -> Wyoming address, for every satellite this hub could drive."""
        self.driving: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = False
        self.changes = 0
        """Times this hub started or stopped driving a satellite (flapping shows here)."""
        link.subscribe_raw(topics.all_owners(), self._lease_message)
        link.subscribe_raw(topics.all_hub_availability(), self._availability_message)

    # -- what the hub asks -----------------------------------------------------------------
    def want(self, satellite: str, uri: str) -> bool:
        """This hub could drive ``satellite`` at ``uri``; True if it owns it now (link it), else it is
        told through ``on_owned`` once it does."""
        self.wanted[satellite] = uri
        if satellite in self.driving:
            return True
        self._evaluate(satellite)
        return False

    def owner(self, satellite: str) -> str | None:
        lease = self.leases.get(satellite)
        return lease.hub if lease is not None else None

    def release_all(self) -> None:
        """A graceful stop (links already closed): clear our leases so another hub claims at once."""
        for satellite in sorted(self.driving):
            self._link.forget_retained(self._topics.conversation(satellite, ConversationTopic.OWNER))
        self.driving.clear()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # -- the task ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Decide only once the broker's retained leases are in (``settle_s`` after each connect); let go of
        every satellite when the broker stays away longer than ``grace_s``."""
        while True:
            await self._link.connected.wait()
            await asyncio.sleep(self._settings.settle_s)
            if not self._link.connected.is_set():
                continue
            self._ready = True
            # Our own availability (the last will) went out on connect; the shared one tells Home Assistant
            # that a hub is here.
            self._link.publish(self._topics.hub(HubTopic.AVAILABILITY), Availability.ONLINE, retain=True)
            for satellite in list(self.wanted):
                self._evaluate(satellite)
            await self._poll(lambda: not self._link.connected.is_set())  # MqttLink has no "disconnected" event
            self._ready = False
            await self._poll(self._back_or_given_up(time.monotonic() + self._grace_s))
            if not self._link.connected.is_set():
                _LOGGER.warning("broker away for %.0f s: letting go of %d satellite(s) (other hubs take them)",
                                self._grace_s, len(self.driving))
                for satellite in sorted(self.driving):
                    self._lose(satellite)

    def _back_or_given_up(self, give_up_at: float) -> Callable[[], bool]:
        return lambda: self._link.connected.is_set() or time.monotonic() >= give_up_at

    @staticmethod
    async def _poll(done: Callable[[], bool]) -> None:
        while True:
            if done():
                return
            await asyncio.sleep(0.2)

    # -- broker messages -----------------------------------------------------------------------
    async def _lease_message(self, topic: str, payload: bytes) -> None:
        try:
            satellite = self._topics.parse(topic).device_id
        except TopicError:
            return
        if satellite is None:
            return
        if not payload:
            self.leases.pop(satellite, None)
        else:
            try:
                lease = codec.decode_as(SatelliteOwner, payload)
            except codec.PayloadError as err:
                self._link.log_limiter.warning("lease", "bad lease on %s: %s", topic, err)
                return
            if lease.satellite != satellite:
                self._link.log_limiter.warning("lease", "lease on %s names %s: ignored", topic, lease.satellite)
                return
            self.leases[satellite] = lease
        if satellite in self.wanted:
            self._evaluate(satellite, fresh=True)

    async def _availability_message(self, topic: str, payload: bytes) -> None:
        try:
            hub = self._topics.parse(topic).device_id
            state = codec.decode_as(Availability, payload) if payload else Availability.OFFLINE
        except (TopicError, codec.PayloadError):
            return
        if hub is None or hub == self.hub_id:
            return
        was = self.alive.get(hub)
        self.alive[hub] = state is Availability.ONLINE
        if was and not self.alive[hub]:
            _LOGGER.info("hub %s is offline: its satellites are free to claim", hub)
        for satellite, lease in list(self.leases.items()):
            if lease.hub == hub and satellite in self.wanted:
                self._evaluate(satellite)

    # -- decisions -----------------------------------------------------------------------------
    def _evaluate(self, satellite: str, *, fresh: bool = False) -> None:
        if not self._ready:
            return
        lease = self.leases.get(satellite)
        if lease is not None and lease.hub == self.hub_id:
            if satellite not in self.driving and (fresh or satellite not in self._timers):
                self._later(satellite, self._settings.settle_s, self._confirm)  # does our claim stand?
            return
        if lease is not None and self.alive.get(lease.hub, False):
            self._cancel(satellite)
            if satellite in self.driving:
                _LOGGER.warning("satellite %s is leased to hub %s now: letting go", satellite, lease.hub)
                self._lose(satellite)
            return
        if satellite in self.driving:  # our lease was cleared under us: say again that it is ours
            self._claim(satellite)
        elif satellite not in self._timers:
            self._later(satellite, self._claim_delay(satellite), self._claim)

    def _claim_delay(self, satellite: str) -> float:
        share = zlib.crc32(f"{self.hub_id}/{satellite}".encode()) / 2**32
        return self._settings.claim_delay_s * (1.0 + share)

    def _claim(self, satellite: str) -> None:
        self._timers.pop(satellite, None)
        lease = self.leases.get(satellite)
        if not self._ready or satellite not in self.wanted:
            return
        if lease is not None and lease.hub != self.hub_id and self.alive.get(lease.hub, False):
            return  # someone else's live claim arrived meanwhile
        previous = f"hub {lease.hub} (offline)" if lease is not None and lease.hub != self.hub_id else "nobody"
        _LOGGER.info("claiming satellite %s (owner: %s)", satellite, previous)
        self._link.publish(self._topics.conversation(satellite, ConversationTopic.OWNER),
                           SatelliteOwner(satellite=satellite, hub=self.hub_id, since=time.time()), retain=True)

    def _confirm(self, satellite: str) -> None:
        self._timers.pop(satellite, None)
        lease = self.leases.get(satellite)
        if not self._ready or lease is None or lease.hub != self.hub_id or satellite in self.driving:
            return
        uri = self.wanted.get(satellite)
        if uri is None:
            return
        self.driving.add(satellite)
        self.changes += 1
        _LOGGER.info("satellite %s is this hub's (%s)", satellite, uri)
        self._on_owned(satellite, uri)

    def _lose(self, satellite: str) -> None:
        self.driving.discard(satellite)
        self.changes += 1
        uri = self.wanted.get(satellite)
        if uri is not None:
            self._on_lost(satellite, uri)

    def _later(self, satellite: str, delay_s: float, action: Callable[[str], None]) -> None:
        self._cancel(satellite)
        self._timers[satellite] = asyncio.get_running_loop().call_later(delay_s, action, satellite)

    def _cancel(self, satellite: str) -> None:
        handle = self._timers.pop(satellite, None)
        if handle is not None:
            handle.cancel()

