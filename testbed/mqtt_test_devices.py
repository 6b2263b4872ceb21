"""Small MQTT devices that publish Home Assistant discovery and behave like the real ones.

A :class:`DeviceBridge` is one broker login (like one Zigbee2MQTT or Tasmota install) serving several
devices. Each device publishes its retained discovery config, answers commands on its command topic
and reports its new state on its state topic, as the real firmware does:

- :class:`ZigbeeBulb`: a Zigbee2MQTT bulb (json schema, ``~`` base topic, availability, brightness, colour);
- :class:`TasmotaPlug`: a plug in the device form (``homeassistant/device/<id>/config`` with ``cmps``),
  payloads ``1``/``0`` and a ``value_template``;
- :class:`Blinds`: a cover with position; :class:`Thermostat`: a climate with target and current temperature;
- :class:`TemperatureSensor`: a sensor; ``ZigbeeBulb(..., confirms=False)`` takes commands and never reports.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from common.mqtt import MqttLink, MqttSettings

PREFIX = "homeassistant"


@dataclass
class DiscoveryDevice:
    object_id: str
    name: str
    area: str
    state: dict[str, Any] = field(default_factory=dict)
    commands: list[tuple[str, bytes]] = field(default_factory=list)
    confirms: bool = True
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    changed_t: float | None = None
    """When the last command was applied (and its state published), time.monotonic()."""

    def discovery(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def command_topics(self) -> list[str]:
        raise NotImplementedError

    def on_command(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """Apply a command; returns the state messages to publish."""
        raise NotImplementedError

    def initial(self) -> list[tuple[str, bytes]]:
        return []


@dataclass
class ZigbeeBulb(DiscoveryDevice):
    base: str = ""

    def __post_init__(self) -> None:
        self.base = f"zigbee2mqtt/{self.object_id}"
        self.state = {"state": "OFF", "brightness": 0, "color": {"r": 255, "g": 255, "b": 255}}

    def discovery(self) -> tuple[str, dict[str, Any]]:
        return f"{PREFIX}/light/{self.object_id}/light/config", {
            "~": self.base, "name": None, "uniq_id": f"{self.object_id}_light", "obj_id": self.object_id,
            "schema": "json", "cmd_t": "~/set", "stat_t": "~", "brightness": True, "sup_clrm": ["rgb"],
            "avty": [{"t": "~/availability", "val_tpl": "{{ value_json.state }}"}],
            "dev": {"ids": [f"zigbee2mqtt_{self.object_id}"], "name": self.name, "mf": "IKEA", "mdl": "LED1545G12",
                    "sa": self.area},
            "o": {"name": "Zigbee2MQTT", "sw": "2.1.0"},
        }

    def command_topics(self) -> list[str]:
        return [f"{self.base}/set"]

    def initial(self) -> list[tuple[str, bytes]]:
        return [(f"{self.base}/availability", b'{"state":"online"}'), (self.base, json.dumps(self.state).encode())]

    def on_command(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        body = json.loads(payload)
        self.state.update({k: v for k, v in body.items() if k in ("state", "brightness", "color")})
        return [(self.base, json.dumps(self.state).encode())]


@dataclass
class TasmotaPlug(DiscoveryDevice):
    def __post_init__(self) -> None:
        self.state = {"POWER": "0"}

    def discovery(self) -> tuple[str, dict[str, Any]]:
        return f"{PREFIX}/device/{self.object_id}/config", {
            "dev": {"ids": [self.object_id], "name": self.name, "mf": "Tasmota", "sa": self.area},
            "o": {"name": "Tasmota"}, "qos": 1,
            "cmps": {"relay": {"p": "switch", "name": None, "uniq_id": f"{self.object_id}_relay",
                               "obj_id": self.object_id, "cmd_t": f"cmnd/{self.object_id}/POWER",
                               "stat_t": f"stat/{self.object_id}/RESULT", "val_tpl": "{{ value_json.POWER }}",
                               "pl_on": "1", "pl_off": "0"}},
        }

    def command_topics(self) -> list[str]:
        return [f"cmnd/{self.object_id}/POWER"]

    def on_command(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        self.state["POWER"] = payload.decode()
        return [(f"stat/{self.object_id}/RESULT", json.dumps(self.state).encode())]

    def initial(self) -> list[tuple[str, bytes]]:
        return [(f"stat/{self.object_id}/RESULT", json.dumps(self.state).encode())]


@dataclass
class Blinds(DiscoveryDevice):
    def __post_init__(self) -> None:
        self.state = {"position": 0}

    @property
    def base(self) -> str:
        return f"zigbee2mqtt/{self.object_id}"

    def discovery(self) -> tuple[str, dict[str, Any]]:
        return f"{PREFIX}/cover/{self.object_id}/cover/config", {
            "~": self.base, "name": None, "uniq_id": f"{self.object_id}_cover", "obj_id": self.object_id,
            "dev_cla": "blind", "cmd_t": "~/set", "pl_open": "OPEN", "pl_cls": "CLOSE", "pl_stop": "STOP",
            "pos_t": "~", "pos_tpl": "{{ value_json.position }}", "set_pos_t": "~/set/position",
            "dev": {"ids": [self.object_id], "name": self.name, "sa": self.area},
        }

    def command_topics(self) -> list[str]:
        return [f"{self.base}/set", f"{self.base}/set/position"]

    def on_command(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        said = payload.decode()
        if topic.endswith("/position"):
            self.state["position"] = int(float(said))
        elif said in ("OPEN", "CLOSE"):
            self.state["position"] = 100 if said == "OPEN" else 0
        return [(self.base, json.dumps(self.state).encode())]

    def initial(self) -> list[tuple[str, bytes]]:
        return [(self.base, json.dumps(self.state).encode())]


@dataclass
class Thermostat(DiscoveryDevice):
    def __post_init__(self) -> None:
        self.state = {"target": 18.0, "current": 19.5, "mode": "heat"}

    @property
    def base(self) -> str:
        return f"esphome/{self.object_id}"

    def discovery(self) -> tuple[str, dict[str, Any]]:
        return f"{PREFIX}/climate/{self.object_id}/config", {
            "~": self.base, "name": self.name, "uniq_id": self.object_id, "obj_id": self.object_id,
            "temp_cmd_t": "~/target/set", "temp_stat_t": "~/target", "curr_temp_t": "~/current",
            "mode_cmd_t": "~/mode/set", "mode_stat_t": "~/mode", "modes": ["off", "heat"], "temp_unit": "C",
            "dev": {"ids": [self.object_id], "name": self.name, "sa": self.area},
        }

    def command_topics(self) -> list[str]:
        return [f"{self.base}/target/set", f"{self.base}/mode/set"]

    def on_command(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        if topic.endswith("/target/set"):
            self.state["target"] = float(payload)
            return [(f"{self.base}/target", payload)]
        self.state["mode"] = payload.decode()
        return [(f"{self.base}/mode", payload)]

    def initial(self) -> list[tuple[str, bytes]]:
        return [(f"{self.base}/target", str(self.state["target"]).encode()),
                (f"{self.base}/current", str(self.state["current"]).encode()),
                (f"{self.base}/mode", self.state["mode"].encode())]


@dataclass
class TemperatureSensor(DiscoveryDevice):
    value: float = 21.0

    def discovery(self) -> tuple[str, dict[str, Any]]:
        return f"{PREFIX}/sensor/{self.object_id}/temperature/config", {
            "name": "Temperature", "stat_t": f"zigbee2mqtt/{self.object_id}", "val_tpl": "{{ value_json.temperature }}",
            "unit_of_meas": "°C", "dev_cla": "temperature", "uniq_id": f"{self.object_id}_temperature",
            "obj_id": f"{self.object_id}_temperature",
            "dev": {"ids": [self.object_id], "name": self.name, "sa": self.area},
        }

    def command_topics(self) -> list[str]:
        return []

    def initial(self) -> list[tuple[str, bytes]]:
        return [(f"zigbee2mqtt/{self.object_id}", json.dumps({"temperature": self.value}).encode())]


class DeviceBridge:
    """One broker login serving ``devices``: publishes discovery and state, obeys commands."""

    def __init__(self, settings: MqttSettings, devices: list[DiscoveryDevice], client_id: str = "test-devices") -> None:
        self.devices = devices
        self.link = MqttLink(settings, client_id)
        for device in devices:
            for topic in device.command_topics():
                self.link.subscribe_raw(topic, self._command_for(device))

    def _command_for(self, device: DiscoveryDevice):  # noqa: ANN202 - a closure per device
        async def handle(topic: str, payload: bytes) -> None:
            device.commands.append((topic, payload))
            replies = device.on_command(topic, payload)
            device.changed_t = time.monotonic()
            if device.confirms:
                for state_topic, state in replies:
                    self.link.publish_bytes(state_topic, state, retain=True)
            device.changed.set()
        return handle

    def publish_discovery(self) -> None:
        for device in self.devices:
            topic, config = device.discovery()
            self.link.publish_bytes(topic, json.dumps(config).encode(), retain=True)
            for state_topic, state in device.initial():
                self.link.publish_bytes(state_topic, state, retain=True)

    def publish_raw(self, topic: str, payload: bytes) -> None:
        self.link.publish_bytes(topic, payload, retain=True)
