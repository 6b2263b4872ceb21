"""Home Assistant MQTT discovery: the same entities in either of Home Assistant's two forms.

- **per-component** (the default; every Home Assistant since 2023.8): one retained config per
  entity on ``homeassistant/<platform>/<node_id>/<key>/config``, each carrying the same device;
- **device** (Home Assistant 2024.11+): one retained config per device on
  ``homeassistant/device/<node_id>/config`` listing every component.

Home Assistant files both under the same discovery id (``<node_id> <key>``) and unique id, so a
switch keeps the entities' history once the other form's configs are cleared (the hub finds
them on the broker: hub/adapters/ha_discovery.py). Which form, and whether the announce entity is MQTT ``notify``
(2024.5+) or ``text``, follows the oldest Home Assistant version the user says reads it.

A satellite gets only the entities it can honour. Two groups, each with its own availability:

- what the hub does for it (conversation state, last transcript/response/latency/announcement,
  announce, the driver select, and ``stop`` for a stock satellite): available while the hub is
  online *and* drives it over a live Wyoming link (``conversation/<id>/link``);
- what our satellite does itself over MQTT (mute, volume, stop, start conversation, wake word
  select and wake events, as its announced ``capabilities`` say): available while the satellite is.

A stock ``wyoming-satellite`` has no MQTT: it gets only the first group.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from protocol import PROTOCOL_VERSION
from protocol.commands import MuteCommand, StartConversationCommand, StopCommand
from protocol.payloads import Availability, SatelliteAnnounce, SatelliteDriver
from protocol.topics import (
    HA_DISCOVERY_PREFIX,
    ConversationTopic,
    HubTopic,
    SatelliteTopic,
    Topics,
    validate_device_id,
)

ORIGIN = {"name": "hearth", "sw": PROTOCOL_VERSION, "url": "https://github.com/hearth-voice/hearth"}

DEVICE_DISCOVERY_SINCE = (2024, 11)
"""First Home Assistant release that reads ``homeassistant/device/<id>/config``."""
MQTT_NOTIFY_SINCE = (2024, 5)
"""First Home Assistant release with the MQTT ``notify`` entity platform."""
OLDEST_SUPPORTED = (2023, 8)
"""MQTT ``event`` entities (the wake word) arrived in 2023.8."""

Form = Literal["component", "device"]

_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})(?:\.\d+)?$")


def parse_ha_version(version: str) -> tuple[int, int]:
    """``"2024.3"`` or ``"2024.3.3"`` -> ``(2024, 3)``; ValueError for anything else or too old."""
    match = _VERSION.match(version.strip())
    if match is None:
        raise ValueError(f"Home Assistant version must look like 2024.3 or 2024.3.3, got {version!r}")
    parsed = (int(match.group(1)), int(match.group(2)))
    if parsed < OLDEST_SUPPORTED:
        raise ValueError(f"Home Assistant {version} is too old: MQTT event entities need "
                         f"{OLDEST_SUPPORTED[0]}.{OLDEST_SUPPORTED[1]} or later")
    return parsed


@dataclass(frozen=True)
class HaFeatures:
    """What the oldest Home Assistant reading our discovery understands."""

    form: Form
    notify: bool
    """Announce as an MQTT ``notify`` entity (else a ``text`` entity)."""

    @staticmethod
    def for_version(version: str) -> HaFeatures:
        parsed = parse_ha_version(version)
        return HaFeatures(form="device" if parsed >= DEVICE_DISCOVERY_SINCE else "component",
                          notify=parsed >= MQTT_NOTIFY_SINCE)


@dataclass(frozen=True)
class Component:
    platform: str
    key: str
    """Object id within its device (``state``, ``mute``, ...)."""
    config: dict[str, Any]


@dataclass(frozen=True)
class DeviceDiscovery:
    """One Home Assistant device and its components, ready for either form."""

    node_id: str
    device: dict[str, Any]
    components: tuple[Component, ...]
    possible: frozenset[tuple[str, str]]
    """Every (platform, key) a device of this kind may have had, for clearing stale configs."""


def satellite_node_id(satellite: str) -> str:
    return f"hearth_{validate_device_id(satellite)}"


def hub_node_id(hub_id: str) -> str:
    return f"hearth_hub_{validate_device_id(hub_id)}"


def device_topic(node_id: str) -> str:
    return f"{HA_DISCOVERY_PREFIX}/device/{node_id}/config"


def component_topic(platform: str, node_id: str, key: str) -> str:
    return f"{HA_DISCOVERY_PREFIX}/{platform}/{node_id}/{key}/config"


def _available(topic: str) -> dict[str, Any]:
    return {"topic": topic, "payload_available": Availability.ONLINE.value,
            "payload_not_available": Availability.OFFLINE.value}


def _command(model: Any) -> str:
    """A command payload as Home Assistant will send it (our strict models accept it)."""
    return json.dumps(model.model_dump(mode="json", include={"command", "muted", "volume"}, exclude_none=True),
                      separators=(",", ":"))


_SATELLITE_POSSIBLE = frozenset({
    ("sensor", "state"), ("sensor", "transcript"), ("sensor", "response"), ("sensor", "latency"),
    ("sensor", "announcement"), ("notify", "announce"), ("text", "announce_text"), ("select", "driver"),
    ("button", "stop"), ("button", "start_conversation"), ("switch", "mute"), ("number", "volume"),
    ("event", "wake"), ("select", "wake_word"),
})
_HUB_POSSIBLE = frozenset({("sensor", "status"), ("sensor", "queue"), ("sensor", "rss")})


def satellite_device(topics: Topics, satellite: str, features: HaFeatures, *, name: str, area: str,
                     announce: SatelliteAnnounce | None, software: str | None = None) -> DeviceDiscovery:
    """Our satellite (``announce`` given: it speaks MQTT) or a stock one the hub drives (``announce`` None)."""
    uid = satellite_node_id(satellite)
    command = topics.command(satellite)
    turn = topics.conversation(satellite, ConversationTopic.TURN)
    link = topics.conversation(satellite, ConversationTopic.LINK)
    hub_side = {
        "availability": [_available(topics.hub(HubTopic.AVAILABILITY)),
                         {**_available(link), "value_template": "{{ 'online' if value_json.connected else 'offline' }}"}],
        "availability_mode": "all",
    }
    hub_only = {"availability": [_available(topics.hub(HubTopic.AVAILABILITY))]}
    own = {"availability": [_available(topics.satellite(satellite, SatelliteTopic.AVAILABILITY))]}
    components = [
        Component("sensor", "state", {**hub_side, "name": "State", "icon": "mdi:account-voice",
                                      "state_topic": topics.conversation(satellite, ConversationTopic.STATE),
                                      "value_template": "{{ value_json.phase }}", "device_class": "enum",
                                      "options": ["idle", "listening", "thinking", "speaking", "interrupted", "error"]}),
        Component("sensor", "transcript", {**hub_side, "name": "Last transcript", "state_topic": turn,
                                           "icon": "mdi:text-recognition",
                                           "value_template": "{{ value_json.transcript[:250] }}"}),
        Component("sensor", "response", {**hub_side, "name": "Last response", "state_topic": turn,
                                         "icon": "mdi:message-reply-text",
                                         "value_template": "{{ value_json.response[:250] }}"}),
        Component("sensor", "latency", {**hub_side, "name": "Response latency", "state_topic": turn,
                                        "value_template": "{{ value_json.timings.first_audio_ms | default(0) }}",
                                        "unit_of_measurement": "ms", "device_class": "duration",
                                        "state_class": "measurement"}),
        Component("sensor", "announcement", {**hub_side, "name": "Last announcement", "icon": "mdi:bullhorn",
                                             "state_topic": topics.conversation(satellite, ConversationTopic.ANNOUNCEMENT),
                                             "value_template": "{{ value_json.response[:250] }}"}),
        # Home Assistant renders `value` (the message) into our strict announce command. The two platforms
        # get different keys: Home Assistant's cleanup of a device config maps each key to one platform.
        Component("notify" if features.notify else "text", "announce" if features.notify else "announce_text", {
            **hub_side, "name": "Announce", "icon": "mdi:bullhorn", "command_topic": command,
            "command_template": '{"command":"announce","text":{{ value | tojson }}}',
            **({} if features.notify else {"max": 255, "mode": "text"}),
        }),
        Component("select", "driver", {**hub_only, "name": "Driven by", "icon": "mdi:steering",
                                       "entity_category": "config", "state_topic": link,
                                       "value_template": "{{ value_json.driver }}", "command_topic": command,
                                       "options": [d.value for d in SatelliteDriver],
                                       "command_template": '{"command":"driver","driver":"{{ value }}"}'}),
    ]
    capabilities = set(announce.capabilities) if announce else set()
    stop = {"name": "Stop", "icon": "mdi:stop", "command_topic": command,
            "payload_press": _command(StopCommand(command="stop"))}
    # Our satellite stops itself over MQTT; a stock one only through the hub's Wyoming link to it.
    components.append(Component("button", "stop", {**(own if announce else hub_side), **stop}))
    if announce is not None:
        state = topics.satellite(satellite, SatelliteTopic.STATE)
        announce_topic = topics.satellite(satellite, SatelliteTopic.ANNOUNCE)
        if "mute" in capabilities:
            components.append(Component("switch", "mute", {
                **own, "name": "Mute", "icon": "mdi:microphone-off", "command_topic": command, "state_topic": state,
                "payload_on": _command(MuteCommand(command="mute", muted=True)),
                "payload_off": _command(MuteCommand(command="mute", muted=False)),
                "value_template": "{{ 'ON' if value_json.muted else 'OFF' }}", "state_on": "ON", "state_off": "OFF"}))
        if "volume" in capabilities:
            components.append(Component("number", "volume", {
                **own, "name": "Volume", "icon": "mdi:volume-high", "command_topic": command, "state_topic": state,
                "command_template": '{"command":"volume","volume":{{ value | int }}}',
                "value_template": "{{ value_json.volume }}", "min": 0, "max": 100, "step": 1,
                "unit_of_measurement": "%"}))
        if "start_conversation" in capabilities:
            components.append(Component("button", "start_conversation", {
                **own, "name": "Start conversation", "icon": "mdi:microphone-message", "command_topic": command,
                "payload_press": _command(StartConversationCommand(command="start_conversation"))}))
        wake_words = list(dict.fromkeys([*announce.wake_words, *announce.wake_word_options]))
        if wake_words:
            components.append(Component("event", "wake", {
                **own, "name": "Wake word", "icon": "mdi:account-voice",
                "state_topic": topics.satellite(satellite, SatelliteTopic.WAKE), "event_types": wake_words,
                "value_template": '{"event_type": "{{ value_json.wake_word }}", "score": {{ value_json.score }}}'}))
        if "wake_word" in capabilities and announce.wake_word_options:
            components.append(Component("select", "wake_word", {
                **own, "name": "Wake word", "icon": "mdi:account-voice", "entity_category": "config",
                "state_topic": announce_topic, "value_template": "{{ value_json.wake_words[0] }}",
                "command_topic": command, "options": list(announce.wake_word_options),
                "command_template": '{"command":"wake_word","wake_word":"{{ value }}"}'}))
    for component in components:
        component.config["unique_id"] = f"{uid}_{component.key}"
        component.config["qos"] = 1
    device = {"ids": [uid], "name": name, "mf": "Hearth", "sa": area,
              "mdl": "Satellite" if announce is not None else "Wyoming satellite (no MQTT)",
              "sw": software or (announce.software if announce else "wyoming-satellite")}
    return DeviceDiscovery(uid, device, tuple(components), _SATELLITE_POSSIBLE)


def hub_device(topics: Topics, hub_id: str, *, software: str) -> DeviceDiscovery:
    uid = hub_node_id(hub_id)
    state = topics.hub(HubTopic.STATE)
    metrics = topics.hub(HubTopic.METRICS)
    shared = {"availability": [_available(topics.hub(HubTopic.AVAILABILITY))], "qos": 1}
    components = (
        Component("sensor", "status", {**shared, "name": "Status", "state_topic": state,
                                       "value_template": "{{ value_json.status }}", "unique_id": f"{uid}_status"}),
        Component("sensor", "queue", {**shared, "name": "Speech queue", "state_topic": metrics,
                                      "value_template": "{{ value_json.stt_queue_depth }}",
                                      "state_class": "measurement", "unique_id": f"{uid}_queue"}),
        Component("sensor", "rss", {**shared, "name": "Memory", "state_topic": metrics, "unit_of_measurement": "MB",
                                    "value_template": "{{ value_json.rss_mb }}", "state_class": "measurement",
                                    "unique_id": f"{uid}_rss"}),
    )
    device = {"ids": [uid], "name": "Hearth hub", "mf": "Hearth", "mdl": "Hub", "sw": software}
    return DeviceDiscovery(uid, device, components, _HUB_POSSIBLE)


def _encode(config: dict[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()


def messages(discovery: DeviceDiscovery, form: Form) -> list[tuple[str, bytes]]:
    """The retained (topic, payload) publishes that describe ``discovery`` in ``form``.

    Per-component form also clears the configs of components this device no longer has
    (e.g. ``text`` -> ``notify`` announce); the device form does that by omission.
    """
    if form == "device":
        return [(device_topic(discovery.node_id), _encode({
            "dev": discovery.device, "o": ORIGIN,
            "cmps": {c.key: {"p": c.platform, **c.config} for c in discovery.components},
        }))]
    out = [(component_topic(c.platform, discovery.node_id, c.key),
            _encode({**c.config, "dev": discovery.device, "o": ORIGIN})) for c in discovery.components]
    present = {(c.platform, c.key) for c in discovery.components}
    out += [(component_topic(platform, discovery.node_id, key), b"")
            for platform, key in sorted(discovery.possible - present)]
    return out

