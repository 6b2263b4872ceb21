"""Which of Home Assistant's English Assist sentences the fast path uses, merged with ours, parsed for hassil.

HA's intent names map to ours (:data:`DEVICE_NAMES`, :data:`OTHER_NAMES`); blocks for what the hub does
not control (media players, scenes, people and zones...) are left out. Our own sentences
(:mod:`hub.home.intent_sentences`) add what HA has none for (mute, stop, toggle, some light phrasings).
"""

from __future__ import annotations

from typing import Any

from hassil import Intents
from home_assistant_intents import get_intents

from hub.home.intent_sentences import CUSTOM_SENTENCES

DEVICE_NAMES = {
    "HassTurnOn": "turn_on", "HassTurnOff": "turn_off", "HassToggle": "toggle", "HassLightSet": "light_set",
    "HassSetPosition": "set_position", "HassClimateSetTemperature": "climate_set_temperature",
    "HassGetState": "get_state", "HassClimateGetTemperature": "climate_get_temperature",
}
"""HA's device intents -> ours (the device intents of :class:`hub.home.intents.Intent`)."""
OTHER_NAMES = {
    "HassGetCurrentTime": "time", "HassGetCurrentDate": "date", "HassStartTimer": "timer_start",
    "HassCancelTimer": "timer_cancel", "HassCancelAllTimers": "timer_cancel", "HassPauseTimer": "timer_pause",
    "HassUnpauseTimer": "timer_resume", "HassTimerStatus": "timer_list", "HassSetVolume": "volume",
    "HassSetVolumeRelative": "volume", "HassNevermind": "nevermind", "HearthStop": "stop", "HearthMute": "mute",
    "HearthUnmute": "mute",
}
"""HA's other intents (and our ``Hearth*`` ones) -> ours."""
_DOMAINS_WE_CONTROL = {"light", "switch", "fan", "cover", "climate", "sensor", "binary_sensor", "input_boolean", "valve",
                       "lock"}


def _keep(name: str, block: dict[str, Any]) -> bool:
    """Which of HA's sentence blocks we act on (media players, scenes, scripts... are not ours)."""
    combination = str((block.get("metadata") or {}).get("slot_combination", ""))
    if name == "HassStartTimer":
        return not combination.startswith("command")  # "turn off the lights in 5 minutes" needs more than a timer
    if name in ("HassSetVolume", "HassSetVolumeRelative"):
        return combination in ("default", "")  # the satellite's own volume
    domains = (block.get("requires_context") or {}).get("domain")
    if isinstance(domains, list) and not set(domains) & _DOMAINS_WE_CONTROL:
        return False
    domain = (block.get("slots") or {}).get("domain")
    return not isinstance(domain, str) or domain in _DOMAINS_WE_CONTROL  # not "is anyone home" (person, zone)


_UNKNOWN_NAME_FORMS = {"HassTurnOn": ("name_only", "name_area"), "HassTurnOff": ("name_only", "name_area"),
                       "HassToggle": ("name_only",), "HassGetState": ("name_state",)}
"""Sentences tried again with any name ("turn on the toaster"), so an unknown device is answered as one."""


def load_intents(*, unknown_names: bool = False) -> Intents:
    """Home Assistant's English sentences for the intents we handle, plus ours (parsed once, ~20 ms).

    ``unknown_names``: only the by-name device sentences, for the second pass that finds unknown names."""
    data = get_intents("en")
    if data is None:
        raise RuntimeError("home-assistant-intents has no English sentences: reinstall the package")
    wanted = set(DEVICE_NAMES) | set(OTHER_NAMES)
    intents: dict[str, Any] = {}
    for name, intent in data["intents"].items():
        if name in wanted:
            intents[name] = {"data": [block for block in intent["data"] if _keep(name, block)]}
    for name, intent in CUSTOM_SENTENCES["intents"].items():
        intents.setdefault(name, {"data": []})["data"].extend(intent["data"])
    if unknown_names:
        intents = {name: {"data": [b for b in intents[name]["data"]
                                   if (b.get("metadata") or {}).get("slot_combination") in forms]}
                   for name, forms in _UNKNOWN_NAME_FORMS.items()}
    return Intents.from_dict({
        "language": "en", "intents": intents, "lists": data["lists"],
        "expansion_rules": data["expansion_rules"], "skip_words": data.get("skip_words", []),
    })
