"""What to publish to carry out an :class:`~hub.home.model.Action` on an MQTT device, from its discovery config.

Each platform (switch, light in its default, ``json`` and ``template`` schemas, cover, climate) is
commanded as Home Assistant's own MQTT integration would: the device's command topics, payloads and
templates. An action the device's config gives no way to do yields no messages (the caller says so).
"""

from __future__ import annotations

import json
from typing import Any

from hub.home import mqtt_discovery as disc
from hub.home.model import Action


def commands(c: disc.Component, action: Action) -> list[tuple[str, str]]:
    """The (topic, payload) messages that carry out ``action`` on this device."""
    service, data = action.service, action.data
    if c.platform == "switch" and service in ("turn_on", "turn_off"):
        return [(c.get("command_topic"), str(c.get("payload_on" if service == "turn_on" else "payload_off",
                                                   "ON" if service == "turn_on" else "OFF")))]
    if c.platform == "light" and service in ("turn_on", "turn_off"):
        return _light_commands(c, service, data)
    if c.platform == "cover":
        if service in ("open_cover", "close_cover", "stop_cover", "turn_on", "turn_off") and c.get("command_topic"):
            key, default = {"open_cover": ("payload_open", "OPEN"), "turn_on": ("payload_open", "OPEN"),
                            "close_cover": ("payload_close", "CLOSE"), "turn_off": ("payload_close", "CLOSE"),
                            "stop_cover": ("payload_stop", "STOP")}[service]
            return [(c.get("command_topic"), str(c.get(key, default)))]
        if service == "set_cover_position" and c.get("set_position_topic"):
            position = scale_position(c, float(data["position"]), to_percent=False)
            template = c.get("set_position_template")
            payload = disc.render(template, position=position, value=position) if template else str(position)
            return [(c.get("set_position_topic"), payload)]
    if c.platform == "climate":
        if service == "set_temperature" and c.get("temperature_command_topic"):
            value = float(data["temperature"])
            template = c.get("temperature_command_template")
            payload = disc.render(template, value=value) if template else plain(value)
            return [(c.get("temperature_command_topic"), payload)]
        if service in ("turn_on", "turn_off") and c.get("mode_command_topic"):
            modes = [m for m in c.get("modes", ["off", "heat"]) if m != "off"]
            mode = "off" if service == "turn_off" else (modes[0] if modes else "heat")
            template = c.get("mode_command_template")
            return [(c.get("mode_command_topic"), disc.render(template, value=mode) if template else mode)]
    return []


def _light_commands(c: disc.Component, service: str, data: Any) -> list[tuple[str, str]]:
    on = service == "turn_on"
    scale = float(c.get("brightness_scale", 255))
    brightness = None
    if on and data.get("brightness_pct") is not None:
        brightness = round(float(data["brightness_pct"]) * scale / 100)
    rgb = data.get("rgb_color") if on else None
    if c.get("schema") == "json":
        body: dict[str, Any] = {"state": "ON" if on else "OFF"}
        if brightness is not None:
            body["brightness"] = brightness
        if rgb is not None:
            body["color"] = {"r": rgb[0], "g": rgb[1], "b": rgb[2]}
        return [(c.get("command_topic"), json.dumps(body))]
    if c.get("schema") == "template":
        template = c.get("command_on_template" if on else "command_off_template")
        if not template:
            return []
        variables: dict[str, Any] = {"state": "on" if on else "off", "brightness": brightness}
        if rgb is not None:
            variables.update(red=rgb[0], green=rgb[1], blue=rgb[2])
        return [(c.get("command_topic"), disc.render(template, **variables))]
    messages: list[tuple[str, str]] = []
    power = (c.get("command_topic"), str(c.get("payload_on" if on else "payload_off", "ON" if on else "OFF")))
    if brightness is not None and c.get("brightness_command_topic"):
        template = c.get("brightness_command_template")
        value = disc.render(template, value=brightness) if template else str(brightness)
        messages.append((c.get("brightness_command_topic"), value))
    if rgb is not None and c.get("rgb_command_topic"):
        template = c.get("rgb_command_template")
        value = (disc.render(template, red=rgb[0], green=rgb[1], blue=rgb[2], value=rgb) if template
                 else ",".join(str(int(v)) for v in rgb))
        messages.append((c.get("rgb_command_topic"), value))
    order = c.get("on_command_type", "last")
    if not messages or not on:
        return [power]
    if order == "brightness" and brightness is not None:
        return messages  # the brightness command switches it on
    return [power, *messages] if order == "first" else [*messages, power]


def scale_position(c: disc.Component, value: float, *, to_percent: bool) -> int:
    """A cover's position between its own ``position_closed``/``position_open`` and HA's 0-100 %."""
    opened, closed = float(c.get("position_open", 100)), float(c.get("position_closed", 0))
    if opened == closed:
        return int(value)
    if to_percent:
        return round((value - closed) * 100 / (opened - closed))
    return round(closed + value * (opened - closed) / 100)


def plain(value: float) -> str:
    """A number as a device expects it: no ``.0`` on whole numbers."""
    return str(int(value)) if value.is_integer() else str(value)
