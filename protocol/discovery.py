"""Home Assistant MQTT discovery payloads: one device-level message per satellite and one for the hub.

Device-level discovery (``homeassistant/device/<object_id>/config``, Home Assistant 2024.11+)
carries the device, the origin and every component (entity) at once. Availability is bound
to our last wills (``.../availability``, plain ``online``/``offline``). The hub publishes
these retained and again whenever Home Assistant's birth message (``homeassistant/status``
= ``online``) arrives, so a restarted Home Assistant rediscovers the house.
"""

from __future__ import annotations

import json
from typing import Any

from protocol import PROTOCOL_VERSION
from protocol.commands import MuteCommand, StopCommand
from protocol.payloads import Availability
from protocol.topics import (
    HA_DISCOVERY_PREFIX,
    ConversationTopic,
    HubTopic,
    SatelliteTopic,
    Topics,
    validate_device_id,
)

ORIGIN = {"name": "hearth", "sw": PROTOCOL_VERSION, "url": "https://github.com/hearth-voice/hearth"}


def discovery_topic(object_id: str) -> str:
    return f"{HA_DISCOVERY_PREFIX}/device/{object_id}/config"


def satellite_object_id(satellite: str) -> str:
    return f"hearth_{validate_device_id(satellite)}"


def _availability(*topics: str) -> dict[str, Any]:
    return {
        "availability": [{"topic": t, "payload_available": Availability.ONLINE.value,
                          "payload_not_available": Availability.OFFLINE.value} for t in topics],
        "availability_mode": "all",
    }


def _command(model: Any) -> str:
    """A command payload as Home Assistant will send it (our strict models accept it)."""
    return json.dumps(model.model_dump(mode="json", include={"command", "muted", "volume"}, exclude_none=True),
                      separators=(",", ":"))


def satellite_device(topics: Topics, satellite: str, *, name: str, area: str, software: str,
                     wake_words: list[str]) -> dict[str, Any]:
    uid = satellite_object_id(satellite)
    state = topics.satellite(satellite, SatelliteTopic.STATE)
    conversation = topics.conversation(satellite, ConversationTopic.STATE)
    turn = topics.conversation(satellite, ConversationTopic.TURN)
    command = topics.command(satellite)
    components: dict[str, dict[str, Any]] = {
        f"{uid}_state": {"p": "sensor", "name": "State", "state_topic": conversation,
                         "value_template": "{{ value_json.phase }}", "unique_id": f"{uid}_state",
                         "device_class": "enum",
                         "options": ["idle", "listening", "thinking", "speaking", "interrupted", "error"]},
        f"{uid}_transcript": {"p": "sensor", "name": "Last transcript", "state_topic": turn,
                              "value_template": "{{ value_json.transcript[:250] }}", "unique_id": f"{uid}_transcript"},
        f"{uid}_response": {"p": "sensor", "name": "Last response", "state_topic": turn,
                            "value_template": "{{ value_json.response[:250] }}", "unique_id": f"{uid}_response"},
        f"{uid}_latency": {"p": "sensor", "name": "Response latency", "state_topic": turn,
                           "value_template": "{{ value_json.timings.first_audio_ms | default(0) }}",
                           "unit_of_measurement": "ms", "device_class": "duration", "state_class": "measurement",
                           "unique_id": f"{uid}_latency"},
        f"{uid}_mute": {"p": "switch", "name": "Mute", "command_topic": command, "state_topic": state,
                        "payload_on": _command(MuteCommand(command="mute", muted=True)),
                        "payload_off": _command(MuteCommand(command="mute", muted=False)),
                        "value_template": "{{ 'ON' if value_json.muted else 'OFF' }}",
                        "state_on": "ON", "state_off": "OFF", "icon": "mdi:microphone-off",
                        "unique_id": f"{uid}_mute"},
        f"{uid}_volume": {"p": "number", "name": "Volume", "command_topic": command, "state_topic": state,
                          "command_template": '{"command":"volume","volume":{{ value | int }}}',
                          "value_template": "{{ value_json.volume }}", "min": 0, "max": 100, "step": 1,
                          "unit_of_measurement": "%", "unique_id": f"{uid}_volume"},
        f"{uid}_stop": {"p": "button", "name": "Stop", "command_topic": command,
                        "payload_press": _command(StopCommand(command="stop")), "icon": "mdi:stop",
                        "unique_id": f"{uid}_stop"},
        f"{uid}_wake": {"p": "event", "name": "Wake word", "state_topic": topics.satellite(satellite, SatelliteTopic.WAKE),
                        "event_types": wake_words,
                        "value_template": '{"event_type": "{{ value_json.wake_word }}", '
                                          '"score": {{ value_json.score }}}',
                        "unique_id": f"{uid}_wake"},
    }
    return {
        "dev": {"ids": [uid], "name": name, "mf": "Hearth", "mdl": "Satellite", "sw": software, "sa": area},
        "o": ORIGIN,
        "cmps": components,
        "qos": 1,
        **_availability(topics.satellite(satellite, SatelliteTopic.AVAILABILITY), topics.hub(HubTopic.AVAILABILITY)),
    }


def hub_device(topics: Topics, hub_id: str, *, software: str) -> dict[str, Any]:
    uid = f"hearth_hub_{validate_device_id(hub_id)}"
    state = topics.hub(HubTopic.STATE)
    metrics = topics.hub(HubTopic.METRICS)
    return {
        "dev": {"ids": [uid], "name": "Hearth hub", "mf": "Hearth", "mdl": "Hub", "sw": software},
        "o": ORIGIN,
        "cmps": {
            f"{uid}_status": {"p": "sensor", "name": "Status", "state_topic": state,
                              "value_template": "{{ value_json.status }}", "unique_id": f"{uid}_status"},
            f"{uid}_queue": {"p": "sensor", "name": "Speech queue", "state_topic": metrics,
                             "value_template": "{{ value_json.stt_queue_depth }}", "state_class": "measurement",
                             "unique_id": f"{uid}_queue"},
            f"{uid}_rss": {"p": "sensor", "name": "Memory", "state_topic": metrics, "unit_of_measurement": "MB",
                           "value_template": "{{ value_json.rss_mb }}", "state_class": "measurement",
                           "unique_id": f"{uid}_rss"},
        },
        "qos": 1,
        **_availability(topics.hub(HubTopic.AVAILABILITY)),
    }


def encode(config: dict[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()
