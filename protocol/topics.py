"""The MQTT topic tree, defined once.

Layout (``<root>`` defaults to ``voice``; every topic carries the version segment)::

    <root>/v1/satellite/<id>/announce      retained  SatelliteAnnounce      written by the satellite
    <root>/v1/satellite/<id>/availability  retained  online | offline       the satellite (and its last will)
    <root>/v1/satellite/<id>/state         retained  SatelliteState         the satellite
    <root>/v1/satellite/<id>/wake                    WakeDetection          the satellite
    <root>/v1/satellite/<id>/interrupt               Interrupt              the satellite (barge-in)
    <root>/v1/satellite/<id>/metrics                 SatelliteMetrics       the satellite
    <root>/v1/satellite/<id>/result                  CommandResult          the satellite
    <root>/v1/command/<id>                           Command                the hub, Home Assistant
    <root>/v1/command/all                            Command                the hub, Home Assistant
    <root>/v1/conversation/<id>/state      retained  ConversationState      the hub
    <root>/v1/conversation/<id>/turn       retained  TurnReport             the hub (conversations)
    <root>/v1/conversation/<id>/announcement retained TurnReport          the hub (announcements)
    <root>/v1/conversation/<id>/link       retained  SatelliteLink          the hub (who drives it, link up)
    <root>/v1/conversation/<id>/owner      retained  SatelliteOwner         the owning hub (its lease; [hubs] ownership)
    <root>/v1/hub/availability             retained  online | offline       the hub
    <root>/v1/hub/state                    retained  HubState               the hub
    <root>/v1/hub/metrics                            HubMetrics             the hub
    <root>/v1/hub/arbitration                        ArbitrationDecision    the hub
    <root>/v1/hub/learning                           LearningDecision       the hub
    <root>/v1/hub/command                            HubCommand             Home Assistant, an admin
    <root>/v1/hub/result                             CommandResult          the hub
    <root>/v1/hubs/<hub_id>/availability   retained  online | offline       each hub with [hubs] ownership (its last will)

A satellite writes only below its own ``satellite/<id>/`` and reads only its own
commands, so the broker ACL can be written per device (see ``mosquitto.conf``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol import PROTOCOL_VERSION

DEFAULT_ROOT = "voice"
HA_DISCOVERY_PREFIX = "homeassistant"
HA_STATUS_TOPIC = f"{HA_DISCOVERY_PREFIX}/status"
"""Home Assistant's birth/last-will topic: ``online`` means 're-send discovery'."""

ALL_SATELLITES = "all"
"""Command target that every satellite obeys."""

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
"""What a satellite or hub id may be (the one definition: topics, payloads and settings check with it)."""
_ID_PATTERN = re.compile(DEVICE_ID_PATTERN)


class TopicError(ValueError):
    """A topic or device id that the tree does not allow."""


def validate_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is a valid satellite id, else raise :class:`TopicError`.

    Ids become topic levels, usernames and Home Assistant object ids, so they are
    restricted to lower-case letters, digits, ``-`` and ``_`` (1-64 characters).
    """
    if device_id == ALL_SATELLITES or not _ID_PATTERN.match(device_id):
        raise TopicError(
            f"invalid satellite id {device_id!r}: use 1-64 of a-z 0-9 - _, "
            f"starting with a letter or digit, and not {ALL_SATELLITES!r}"
        )
    return device_id


class SatelliteTopic(StrEnum):
    """Leaves below ``<root>/v1/satellite/<id>/``."""

    ANNOUNCE = "announce"
    AVAILABILITY = "availability"
    STATE = "state"
    WAKE = "wake"
    INTERRUPT = "interrupt"
    METRICS = "metrics"
    RESULT = "result"


class ConversationTopic(StrEnum):
    """Leaves below ``<root>/v1/conversation/<id>/``."""

    STATE = "state"
    TURN = "turn"
    ANNOUNCEMENT = "announcement"
    LINK = "link"
    OWNER = "owner"


class HubTopic(StrEnum):
    """Leaves below ``<root>/v1/hub/``."""

    AVAILABILITY = "availability"
    STATE = "state"
    METRICS = "metrics"
    ARBITRATION = "arbitration"
    LEARNING = "learning"
    COMMAND = "command"
    RESULT = "result"


@dataclass(frozen=True)
class ParsedTopic:
    """A topic of our tree, taken apart."""

    area: str
    """``satellite``, ``command``, ``conversation`` or ``hub``."""
    device_id: str | None
    """Satellite id (or ``all`` for commands); ``None`` for hub topics."""
    leaf: str | None
    """Last level (e.g. ``state``); ``None`` for command topics."""


@dataclass(frozen=True)
class Topics:
    """Builds and parses every topic of one tree; the only place topic strings are made."""

    root: str = DEFAULT_ROOT

    def __post_init__(self) -> None:
        if not self.root or any(c in self.root for c in "+#") or self.root.startswith("/"):
            raise TopicError(f"invalid MQTT root {self.root!r}: no wildcards, no leading '/'")

    @property
    def base(self) -> str:
        return f"{self.root}/{PROTOCOL_VERSION}"

    # -- satellite subtree -------------------------------------------------
    def satellite(self, device_id: str, leaf: SatelliteTopic) -> str:
        return f"{self.base}/satellite/{validate_device_id(device_id)}/{leaf}"

    def satellite_subtree(self, device_id: str) -> str:
        return f"{self.base}/satellite/{validate_device_id(device_id)}/#"

    def all_satellites(self, leaf: SatelliteTopic) -> str:
        """Subscription filter for one leaf of every satellite."""
        return f"{self.base}/satellite/+/{leaf}"

    # -- commands ------------------------------------------------------------
    def command(self, device_id: str) -> str:
        target = device_id if device_id == ALL_SATELLITES else validate_device_id(device_id)
        return f"{self.base}/command/{target}"

    def all_commands(self) -> str:
        return f"{self.base}/command/+"

    # -- conversation (hub-owned view of each satellite) --------------------
    def conversation(self, device_id: str, leaf: ConversationTopic) -> str:
        return f"{self.base}/conversation/{validate_device_id(device_id)}/{leaf}"

    # -- hub -----------------------------------------------------------------
    def hub(self, leaf: HubTopic) -> str:
        return f"{self.base}/hub/{leaf}"

    # -- several hubs (one owner per satellite, hub/adapters/ownership.py) ---------------
    def hub_availability(self, hub_id: str) -> str:
        """One hub's own online/offline (its last will) when several hubs share the broker."""
        return f"{self.base}/hubs/{validate_device_id(hub_id)}/availability"

    def all_hub_availability(self) -> str:
        return f"{self.base}/hubs/+/availability"

    def all_owners(self) -> str:
        return f"{self.base}/conversation/+/{ConversationTopic.OWNER}"

    def everything(self) -> str:
        return f"{self.base}/#"

    # -- parsing ---------------------------------------------------------------
    def parse(self, topic: str) -> ParsedTopic:
        """Take a topic of this tree apart; raise :class:`TopicError` for anything else."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            raise TopicError(f"topic {topic!r} is not under {self.base!r}")
        parts = topic[len(prefix):].split("/")
        area = parts[0]
        if area == "satellite" and len(parts) == 3:
            if parts[2] not in SatelliteTopic._value2member_map_:
                _bad(topic)
            return ParsedTopic(area, validate_device_id(parts[1]), parts[2])
        if area == "conversation" and len(parts) == 3:
            if parts[2] not in ConversationTopic._value2member_map_:
                _bad(topic)
            return ParsedTopic(area, validate_device_id(parts[1]), parts[2])
        if area == "command" and len(parts) == 2:
            target = parts[1] if parts[1] == ALL_SATELLITES else validate_device_id(parts[1])
            return ParsedTopic(area, target, None)
        if area == "hubs" and len(parts) == 3 and parts[2] == "availability":
            return ParsedTopic(area, validate_device_id(parts[1]), parts[2])
        if area == "hub" and len(parts) == 2 and parts[1] in HubTopic._value2member_map_:
            return ParsedTopic(area, None, parts[1])
        _bad(topic)
        raise AssertionError("unreachable")


def _bad(topic: str) -> None:
    raise TopicError(f"topic {topic!r} is not part of the {PROTOCOL_VERSION} tree")
