"""Home Assistant MQTT discovery configs -> typed components (what Zigbee2MQTT, Tasmota, ESPHome publish).

Both forms are read: one component per topic (``<prefix>/<component>/[<node_id>/]<object_id>/config``)
and one device per topic (``<prefix>/device/<id>/config`` with its components under ``cmps``; the
other top-level keys are shared by every component). Abbreviated keys are expanded and ``~`` is
replaced by the base topic, as Home Assistant does. Templates are Jinja, rendered in a sandbox with
``value`` and ``value_json``; a template that fails raises :class:`DiscoveryError` for that one value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

SUPPORTED = frozenset({"light", "switch", "cover", "climate", "sensor", "binary_sensor"})
"""Components we read (and, where they take commands, command)."""
NEEDS_COMMAND_TOPIC = frozenset({"light", "switch"})
OWN_ORIGIN = "hearth"
"""Our own satellites' discovery (protocol/discovery.py) is for Home Assistant, not devices to control."""

_ABBREVIATIONS = {
    "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "avty_tpl": "availability_template", "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
    "t": "topic", "val_tpl": "value_template", "cmd_t": "command_topic", "cmd_tpl": "command_template",
    "stat_t": "state_topic", "stat_tpl": "state_template", "stat_val_tpl": "state_value_template",
    "pl_on": "payload_on", "pl_off": "payload_off", "stat_on": "state_on", "stat_off": "state_off",
    "uniq_id": "unique_id", "obj_id": "object_id", "dev": "device", "dev_cla": "device_class", "o": "origin",
    "cmps": "components", "p": "platform", "ret": "retain", "opt": "optimistic", "unit_of_meas": "unit_of_measurement",
    "stat_cla": "state_class", "json_attr_t": "json_attributes_topic",
    "bri_cmd_t": "brightness_command_topic", "bri_cmd_tpl": "brightness_command_template",
    "bri_scl": "brightness_scale", "bri_stat_t": "brightness_state_topic", "bri_val_tpl": "brightness_value_template",
    "bri_tpl": "brightness_template", "on_cmd_type": "on_command_type", "sup_clrm": "supported_color_modes",
    "clrm": "color_mode", "rgb_cmd_t": "rgb_command_topic", "rgb_cmd_tpl": "rgb_command_template",
    "rgb_stat_t": "rgb_state_topic", "rgb_val_tpl": "rgb_value_template", "r_tpl": "red_template",
    "g_tpl": "green_template", "b_tpl": "blue_template", "cmd_on_tpl": "command_on_template",
    "cmd_off_tpl": "command_off_template",
    "pos_t": "position_topic", "pos_tpl": "position_template", "set_pos_t": "set_position_topic",
    "set_pos_tpl": "set_position_template", "pl_open": "payload_open", "pl_cls": "payload_close",
    "pl_stop": "payload_stop", "stat_open": "state_open", "stat_clsd": "state_closed",
    "stat_opening": "state_opening", "stat_closing": "state_closing", "stat_stopped": "state_stopped",
    "pos_open": "position_open", "pos_clsd": "position_closed",
    "temp_cmd_t": "temperature_command_topic", "temp_cmd_tpl": "temperature_command_template",
    "temp_stat_t": "temperature_state_topic", "temp_stat_tpl": "temperature_state_template",
    "curr_temp_t": "current_temperature_topic", "curr_temp_tpl": "current_temperature_template",
    "mode_cmd_t": "mode_command_topic", "mode_cmd_tpl": "mode_command_template", "mode_stat_t": "mode_state_topic",
    "mode_stat_tpl": "mode_state_template", "temp_unit": "temperature_unit",
}
_DEVICE_ABBREVIATIONS = {"ids": "identifiers", "mf": "manufacturer", "mdl": "model", "sw": "sw_version",
                         "sa": "suggested_area", "cns": "connections"}
_TOPIC = re.compile(r"^(?P<component>[\w-]+)/(?:(?P<node>[\w-]+)/)?(?P<object>[\w-]+)/config$")

_JINJA = ImmutableSandboxedEnvironment(autoescape=False)


class DiscoveryError(ValueError):
    """A config (or a template in it) that cannot be used; the message says why."""


@dataclass(frozen=True)
class Availability:
    topic: str
    available: str = "online"
    not_available: str = "offline"
    template: str | None = None


@dataclass(frozen=True)
class Component:
    """One discovered entity and everything needed to read and command it."""

    discovery_id: str
    """Unique per config topic and component, e.g. ``light/kitchen_bulb`` or ``device/bulb1/light``."""
    platform: str
    entity_id: str
    name: str
    config: dict[str, Any]
    area: str | None = None
    availability: tuple[Availability, ...] = ()
    availability_mode: str = "latest"
    """all | any | latest, as Home Assistant."""
    features: frozenset[str] = field(default_factory=frozenset)

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    @property
    def topics(self) -> set[str]:
        """Every topic this component reads."""
        keys = ("state_topic", "brightness_state_topic", "rgb_state_topic", "position_topic",
                "current_temperature_topic", "temperature_state_topic", "mode_state_topic")
        return {self.config[k] for k in keys if isinstance(self.config.get(k), str)} | {a.topic for a in self.availability}


def parse(prefix: str, topic: str, payload: bytes) -> tuple[list[str], list[Component]]:
    """(discovery ids this config topic covers, components it now defines); an empty payload removes them.

    Raises :class:`DiscoveryError` for a config that cannot be used (the caller keeps what it had)."""
    if not topic.startswith(prefix + "/"):
        raise DiscoveryError(f"not a discovery topic: {topic}")
    match = _TOPIC.match(topic[len(prefix) + 1:])
    if match is None:
        raise DiscoveryError(f"not a discovery config topic: {topic}")
    kind, node, object_id = match["component"], match["node"], match["object"]
    base_id = f"{kind}/{node + '/' if node else ''}{object_id}"
    if not payload.strip():
        return [base_id], []
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DiscoveryError(f"{topic}: not JSON ({err})") from err
    if not isinstance(raw, dict):
        raise DiscoveryError(f"{topic}: a config must be a JSON object")
    config = _expand(raw)
    origin = config.get("origin")
    if isinstance(origin, dict) and origin.get("name") == OWN_ORIGIN:
        return [base_id], []
    if kind != "device":
        if kind not in SUPPORTED:
            return [base_id], []
        return [base_id], [_component(base_id, kind, object_id, config)]
    components = config.pop("components", None)
    if not isinstance(components, dict) or not components:
        raise DiscoveryError(f"{topic}: a device config needs 'cmps' (its components)")
    shared = {k: v for k, v in config.items() if k not in ("origin",)}
    found: list[Component] = []
    for key, body in components.items():
        if not isinstance(body, dict):
            raise DiscoveryError(f"{topic}: component {key!r} is not an object")
        merged = {**shared, **_expand(body)}
        platform = str(merged.pop("platform", ""))
        if platform in SUPPORTED:
            found.append(_component(f"{base_id}/{key}", platform, str(key), merged))
    return [base_id, *(f"{base_id}/{k}" for k in components)], found


def _expand(raw: dict[str, Any]) -> dict[str, Any]:
    config = {_ABBREVIATIONS.get(k, k): v for k, v in raw.items()}
    base = config.pop("~", None)
    if isinstance(base, str):
        for key, value in config.items():
            if key.endswith("_topic") or key == "topic":
                config[key] = _with_base(value, base)
    if isinstance(config.get("device"), dict):
        config["device"] = {_DEVICE_ABBREVIATIONS.get(k, k): v for k, v in config["device"].items()}
    if isinstance(config.get("availability"), list):
        config["availability"] = [_expand(a) if isinstance(a, dict) else a for a in config["availability"]]
        if isinstance(base, str):
            for item in config["availability"]:
                if isinstance(item, dict) and isinstance(item.get("topic"), str):
                    item["topic"] = _with_base(item["topic"], base)
    return config


def _with_base(value: Any, base: str) -> Any:
    if isinstance(value, str):
        if value.startswith("~"):
            return base + value[1:]
        if value.endswith("~"):
            return value[:-1] + base
    return value


def _component(discovery_id: str, platform: str, object_id: str, config: dict[str, Any]) -> Component:
    for key, value in config.items():
        if (key.endswith("_topic") or key.endswith("_template")) and value is not None and not isinstance(value, str):
            raise DiscoveryError(f"{discovery_id}: {key} must be a string")
    if platform in NEEDS_COMMAND_TOPIC and not config.get("command_topic"):
        raise DiscoveryError(f"{discovery_id}: a {platform} needs a command_topic")
    if platform in ("sensor", "binary_sensor") and not config.get("state_topic"):
        raise DiscoveryError(f"{discovery_id}: a {platform} needs a state_topic")
    device: dict[str, Any] = config["device"] if isinstance(config.get("device"), dict) else {}
    device_name = device.get("name") if isinstance(device.get("name"), str) else None
    own = config.get("name")
    if own is None or own == "":
        name = device_name or object_id.replace("_", " ")
    elif not isinstance(own, str):
        raise DiscoveryError(f"{discovery_id}: name must be a string")
    elif device_name and not own.lower().startswith(device_name.lower()):
        name = f"{device_name} {own}"
    else:
        name = own
    slug = config.get("object_id") or config.get("unique_id") or object_id
    entity_id = f"{platform}.{_slug(str(slug))}"
    area = device.get("suggested_area") if isinstance(device.get("suggested_area"), str) else None
    return Component(discovery_id, platform, entity_id, name, config, area, _availability(discovery_id, config),
                     str(config.get("availability_mode", "latest")), _features(platform, config))


def _availability(discovery_id: str, config: dict[str, Any]) -> tuple[Availability, ...]:
    items: list[Availability] = []
    if isinstance(config.get("availability_topic"), str):
        items.append(Availability(config["availability_topic"], str(config.get("payload_available", "online")),
                                  str(config.get("payload_not_available", "offline")),
                                  config.get("availability_template")))
    for item in config.get("availability") or []:
        if not isinstance(item, dict) or not isinstance(item.get("topic"), str):
            raise DiscoveryError(f"{discovery_id}: each availability entry needs a topic")
        items.append(Availability(item["topic"], str(item.get("payload_available", "online")),
                                  str(item.get("payload_not_available", "offline")), item.get("value_template")))
    return tuple(items)


def _features(platform: str, config: dict[str, Any]) -> frozenset[str]:
    features: set[str] = set()
    if platform == "light":
        modes = set(config.get("supported_color_modes") or [])
        if config.get("schema") == "json":
            if config.get("brightness") or modes - {"onoff"}:
                features.add("brightness")
        elif config.get("brightness_command_topic"):
            features.add("brightness")
        if modes & {"rgb", "rgbw", "rgbww", "hs", "xy"} or config.get("rgb_command_topic"):
            features.add("color")
    elif platform == "cover" and config.get("set_position_topic"):
        features.add("position")
    elif platform == "climate" and config.get("temperature_command_topic"):
        features.add("temperature")
    return frozenset(features)


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", text.lower())).strip("_") or "device"


def render(template: str, **variables: Any) -> str:
    """Render a device's Jinja template (``value``, ``value_json`` ...); DiscoveryError if it fails."""
    try:
        return _JINJA.from_string(template).render(**variables).strip()
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError) as err:
        raise DiscoveryError(f"template {template!r} failed: {err}") from err


def render_value(template: str | None, payload: bytes) -> str:
    """A state topic's payload through its value template (the payload itself without one)."""
    text = payload.decode("utf-8", "replace").strip()
    if not template:
        return text
    try:
        value_json: Any = json.loads(text)
    except json.JSONDecodeError:
        value_json = None
    return render(template, value=text, value_json=value_json)
