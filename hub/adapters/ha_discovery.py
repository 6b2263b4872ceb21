"""What Home Assistant sees of the house: discovery for the hub and every known satellite, and each
satellite's link state (who drives it, whether the hub's Wyoming link is up).

Discovery is published in the form ``[home_assistant] version`` allows (see
:mod:`protocol.discovery`), for every satellite the hub knows, driven or not: one handed to Home
Assistant keeps its entities. Configs in the *other* form under our node ids (left by an older
hub, or before the version setting changed) are found by subscribing to that form's topics;
each is cleared and the device is published again a moment later, so Home Assistant has removed
the old entity before it reads the new one with the same unique id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

from common.mqtt import MqttLink
from hub import __version__
from hub.adapters.satellites import SatelliteRegistry
from hub.conversation.session import SatelliteSession
from protocol import discovery
from protocol.payloads import SatelliteLink
from protocol.topics import HA_DISCOVERY_PREFIX, ConversationTopic

_LOGGER = logging.getLogger(__name__)

REPUBLISH_AFTER_CLEAR_S = 1.0
"""Home Assistant removes a cleared entity asynchronously; the same unique id must wait for that."""


class House(Protocol):
    """What discovery describes: the satellites the hub knows and how each is linked."""

    @property
    def registry(self) -> SatelliteRegistry: ...

    @property
    def sessions(self) -> Mapping[str, SatelliteSession]: ...

    @property
    def link_problems(self) -> Mapping[str, str]: ...

    def known_satellites(self) -> set[str]: ...


class HaDiscovery:
    def __init__(self, link: MqttLink, house: House, *, hub_id: str, ha_version: str) -> None:
        self.link = link
        self.house = house
        self.hub_id = hub_id
        self.topics = link.topics
        self.features = discovery.HaFeatures.for_version(ha_version)
        self._cleared: set[str] = set()
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._clearing: set[str] = set()
        self.stale_cleared = 0
        """Configs of the other form found and removed (an upgrade or a changed version setting)."""
        other = (f"{HA_DISCOVERY_PREFIX}/device/+/config" if self.features.form == "component"
                 else f"{HA_DISCOVERY_PREFIX}/+/+/+/config")
        link.subscribe_raw(other, self._on_other_form)
        _LOGGER.info("Home Assistant discovery: %s form, announce as %s (for Home Assistant %s or later)",
                     self.features.form, "notify" if self.features.notify else "text",
                     ha_version)

    # -- devices -------------------------------------------------------------------------
    def _hub_device(self) -> discovery.DeviceDiscovery:
        return discovery.hub_device(self.topics, self.hub_id, software=f"hearth-hub {__version__}")

    def _satellite_device(self, satellite: str) -> discovery.DeviceDiscovery:
        announce = self.house.registry.announced.get(satellite)
        session = self.house.sessions.get(satellite)
        name = announce.name if announce else session.name if session else satellite
        area = announce.area if announce else session.area if session else satellite
        return discovery.satellite_device(self.topics, satellite, self.features, name=name, area=area,
                                          announce=announce, software=None if announce else "wyoming-satellite")

    def _publish(self, device: discovery.DeviceDiscovery) -> None:
        for topic, payload in discovery.messages(device, self.features.form):
            if not payload:
                if topic in self._cleared:
                    continue  # an empty retained message is only needed once
                self._cleared.add(topic)
            else:
                self._cleared.discard(topic)
            self.link.publish_bytes(topic, payload, retain=True)

    def publish_hub(self) -> None:
        self._publish(self._hub_device())

    def publish_satellite(self, satellite: str) -> None:
        self._publish(self._satellite_device(satellite))
        self.publish_link(satellite)

    async def publish_all(self) -> None:
        self.publish_hub()
        for satellite in sorted(self.house.known_satellites()):
            self.publish_satellite(satellite)

    def publish_link(self, satellite: str, *, stopping: bool = False) -> None:
        session = self.house.sessions.get(satellite)
        self.link.publish(self.topics.conversation(satellite, ConversationTopic.LINK), SatelliteLink(
            satellite=satellite, driver=self.house.registry.driver(satellite, self.house.registry.uri_of(satellite)),
            connected=not stopping and session is not None and session.connected,
            stock=satellite not in self.house.registry.announced, problem=self.house.link_problems.get(satellite),
        ), retain=True)

    # -- the other form --------------------------------------------------------------------
    async def _on_other_form(self, topic: str, payload: bytes) -> None:
        if not payload:
            return
        parts = topic.split("/")
        node = parts[2]
        if not node.startswith("hearth_") or (parts[1] == "device") == (self.features.form == "device"):
            return
        if topic in self._clearing:
            return  # another copy (overlapping subscriptions each deliver one)
        self._clearing.add(topic)
        _LOGGER.info("clearing %s: Home Assistant reads the %s form now", topic, self.features.form)
        self.stale_cleared += 1
        self.link.publish_bytes(topic, b"", retain=True)
        if node not in self._pending:
            self._pending[node] = asyncio.get_running_loop().call_later(
                REPUBLISH_AFTER_CLEAR_S, self._republish_node, node)

    def _republish_node(self, node: str) -> None:
        self._pending.pop(node, None)
        self._clearing = {t for t in self._clearing if t.split("/")[2] != node}
        if node == discovery.hub_node_id(self.hub_id):
            self.publish_hub()
            return
        for satellite in self.house.known_satellites():
            if discovery.satellite_node_id(satellite) == node:
                self.publish_satellite(satellite)

    def close(self) -> None:
        """The hub is stopping: its links go with it (published before the MQTT link's last flush)."""
        for satellite in sorted(self.house.known_satellites()):
            self.publish_link(satellite, stopping=True)
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
