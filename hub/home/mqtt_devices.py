"""A :class:`~hub.home.model.HomeBackend` for MQTT devices that publish Home Assistant discovery.

Reads the retained configs under ``homeassistant/#`` on our broker (see :mod:`hub.home.mqtt_discovery`),
follows each device's state and availability topics and commands it on its ``command_topic`` with
its own payloads and templates (:mod:`hub.home.mqtt_commands`). No Home Assistant is needed. A malformed config is logged (at most
once a minute per topic) and skipped; every other device keeps working.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.mqtt import MqttLink
from hub.home import mqtt_discovery as disc
from hub.home.model import Action, Entity, EntityState, HomeError, HomeSource, StateListener
from hub.home.mqtt_commands import commands, scale_position
from protocol.topics import HA_DISCOVERY_PREFIX

_LOGGER = logging.getLogger(__name__)
_LOG_EVERY_S = 60.0


class MqttDevicesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Control MQTT devices that publish Home Assistant discovery "
                                                    "(Zigbee2MQTT, Tasmota, ESPHome) on our broker")
    discovery_prefix: str = Field(default=HA_DISCOVERY_PREFIX, description="Topic prefix of their discovery configs")


class MqttDevices:
    source = HomeSource.MQTT

    def __init__(self, link: MqttLink, prefix: str = HA_DISCOVERY_PREFIX) -> None:
        self._link = link
        self._prefix = prefix
        self._components: dict[str, disc.Component] = {}
        self._by_topic: dict[str, set[str]] = {}
        self._subscribed: set[str] = set()
        self._states: dict[str, EntityState] = {}
        self._available: dict[tuple[str, str], bool] = {}
        self._listeners: list[StateListener] = []
        self._last_log: dict[str, float] = {}
        self.skipped_configs = 0
        link.subscribe_raw(f"{prefix}/#", self._on_discovery)

    # -- HomeBackend ---------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._link.connected.is_set()

    def entities(self) -> Sequence[Entity]:
        seen: dict[str, Entity] = {}
        for c in list(self._components.values()):  # a copy: the intent matcher reads this from a thread
            seen.setdefault(c.entity_id, Entity(c.entity_id, c.name, HomeSource.MQTT, area=c.area,
                                                features=c.features))
        return list(seen.values())

    def state(self, entity_id: str) -> EntityState | None:
        return self._states.get(entity_id)

    def subscribe(self, listener: StateListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def call(self, action: Action) -> None:
        component = self._component(action.entity_id)
        if component is None:
            raise HomeError("unknown_entity", f"no MQTT device {action.entity_id}")
        if not self.available:
            raise HomeError("backend_unavailable", "the MQTT broker is not connected")
        try:
            messages = commands(component, action)
        except disc.DiscoveryError as err:
            raise HomeError("bad_template", f"{component.name}: {err}") from err
        if not messages:
            raise HomeError("unsupported", f"{component.name} cannot {action.service.replace('_', ' ')}")
        qos = int(component.get("qos", 0) or 0)
        retain = bool(component.get("retain", False))
        for topic, payload in messages:
            self._link.publish_bytes(topic, payload.encode(), qos=qos, retain=retain)

    # -- discovery -------------------------------------------------------------------------
    async def _on_discovery(self, topic: str, payload: bytes) -> None:
        if not topic.endswith("/config"):
            return
        try:
            covered, components = disc.parse(self._prefix, topic, payload)
        except disc.DiscoveryError as err:
            self.skipped_configs += 1
            self._log_once(topic, "skipped a discovery config: %s", err)
            return
        for discovery_id in covered:  # a device config covers its components: an empty one removes them all
            for known in [k for k in self._components if k == discovery_id or k.startswith(discovery_id + "/")]:
                del self._components[known]
        for component in components:
            self._components[component.discovery_id] = component
            for state_topic in component.topics:
                self._by_topic.setdefault(state_topic, set()).add(component.discovery_id)
                if state_topic not in self._subscribed:
                    self._subscribed.add(state_topic)
                    await self._link.subscribe_now(state_topic, self._on_state)
        if components:
            _LOGGER.info("discovered %s", ", ".join(f"{c.entity_id} ({c.name})" for c in components))

    def _component(self, entity_id: str) -> disc.Component | None:
        return next((c for c in self._components.values() if c.entity_id == entity_id), None)

    def _log_once(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_log.get(key, -_LOG_EVERY_S) >= _LOG_EVERY_S:
            self._last_log[key] = now
            _LOGGER.warning(message, *args)

    # -- state -----------------------------------------------------------------------------
    async def _on_state(self, topic: str, payload: bytes) -> None:
        for discovery_id in list(self._by_topic.get(topic, ())):
            component = self._components.get(discovery_id)
            if component is None:
                continue
            try:
                changed = self._read(component, topic, payload)
            except disc.DiscoveryError as err:
                self._log_once(f"state:{component.entity_id}", "%s: %s", component.entity_id, err)
                continue
            if changed is not None:
                self._states[component.entity_id] = changed
                for listener in list(self._listeners):
                    try:
                        listener(changed)
                    except Exception:
                        _LOGGER.exception("state listener failed on %s", changed.entity_id)

    def _read(self, c: disc.Component, topic: str, payload: bytes) -> EntityState | None:
        old = self._states.get(c.entity_id)
        state = old.state if old else "unknown"
        attributes: dict[str, Any] = dict(old.attributes) if old else {}
        for availability in c.availability:
            if availability.topic == topic:
                said = disc.render_value(availability.template, payload)
                self._available[(c.entity_id, topic)] = said == availability.available
                if said not in (availability.available, availability.not_available):
                    return None
        if not self._is_available(c):
            state = "unavailable"
        elif state == "unavailable":
            state = "unknown"
        if c.platform == "light" and c.get("schema") == "json" and topic == c.get("state_topic"):
            state, attributes = _read_json_light(c, payload, state, attributes)
        elif topic == c.get("state_topic"):
            state = _read_state(c, payload, state)
        if topic == c.get("brightness_state_topic"):
            value = _number(disc.render_value(c.get("brightness_value_template"), payload))
            if value is not None:
                attributes["brightness"] = round(value * 255 / float(c.get("brightness_scale", 255)))
        if topic == c.get("rgb_state_topic"):
            rgb = disc.render_value(c.get("rgb_value_template"), payload).split(",")
            if len(rgb) == 3 and all(_number(v) is not None for v in rgb):
                attributes["rgb_color"] = [int(float(v)) for v in rgb]
        if topic == c.get("position_topic"):
            position = _number(disc.render_value(c.get("position_template") or c.get("value_template"), payload))
            if position is not None:
                attributes["current_position"] = scale_position(c, position, to_percent=True)
                if c.get("state_topic") is None:
                    state = "open" if attributes["current_position"] > 0 else "closed"
        if topic == c.get("current_temperature_topic"):
            value = _number(disc.render_value(c.get("current_temperature_template"), payload))
            if value is not None:
                attributes["current_temperature"] = value
        if topic == c.get("temperature_state_topic"):
            value = _number(disc.render_value(c.get("temperature_state_template"), payload))
            if value is not None:
                attributes["temperature"] = value
        if topic == c.get("mode_state_topic"):
            state = disc.render_value(c.get("mode_state_template"), payload) or state
        if c.platform == "climate" and c.get("mode_state_topic") is None and state in ("unknown", "on"):
            state = "heat"  # a thermostat without modes is simply heating to its target
        if c.get("unit_of_measurement"):
            attributes["unit_of_measurement"] = c.get("unit_of_measurement")
        if not self._is_available(c):
            state = "unavailable"
        return EntityState(c.entity_id, state, attributes)

    def _is_available(self, c: disc.Component) -> bool:
        if not c.availability:
            return True
        seen = [self._available.get((c.entity_id, a.topic)) for a in c.availability]
        known = [s for s in seen if s is not None]
        if not known:
            return True  # nothing said yet: do not call a device unavailable on no evidence
        if c.availability_mode == "all":
            return all(known)
        if c.availability_mode == "any":
            return any(known)
        return known[-1]


def _read_state(c: disc.Component, payload: bytes, state: str) -> str:
    said = disc.render_value(c.get("state_value_template") or c.get("value_template"), payload)
    if c.platform in ("sensor",):
        return said or state
    if c.platform == "cover":
        for name, default in (("open", "open"), ("closed", "closed"), ("opening", "opening"),
                              ("closing", "closing"), ("stopped", "stopped")):
            if said == str(c.get(f"state_{name}", default)):
                return "open" if name == "stopped" else name
        if said == str(c.get("payload_open", "OPEN")):
            return "open"
        if said == str(c.get("payload_close", "CLOSE")):
            return "closed"
        return state
    on = str(c.get("state_on", c.get("payload_on", "ON")))
    off = str(c.get("state_off", c.get("payload_off", "OFF")))
    if said == on:
        return "on"
    if said == off:
        return "off"
    if said.lower() in ("on", "off"):
        return said.lower()
    return state


def _read_json_light(c: disc.Component, payload: bytes, state: str,
                     attributes: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise disc.DiscoveryError(f"state is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise disc.DiscoveryError("state is not a JSON object")
    said = str(body.get("state", "")).upper()
    state = "on" if said == "ON" else "off" if said == "OFF" else state
    if isinstance(body.get("brightness"), int | float):
        attributes["brightness"] = round(body["brightness"] * 255 / float(c.get("brightness_scale", 255)))
    color = body.get("color")
    if isinstance(color, dict) and all(isinstance(color.get(k), int | float) for k in "rgb"):
        attributes["rgb_color"] = [int(color["r"]), int(color["g"]), int(color["b"])]
    return state, attributes


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
