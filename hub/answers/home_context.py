"""What the home knows that a question is about: device states and the weather, as short sentences.

The home-control layer hands in its entities and their last states (any
:class:`~hub.home.model.HomeBackend`); :meth:`HomeContext.device_states` picks the few a question
is about by plain keyword match (the entity's name or alias, or its area plus a word for its kind,
"lights", "heating") and describes them in words for the language model's prompt.
:meth:`HomeContext.weather_answer` answers "will it rain" from Home Assistant ``weather.*``
entities without any model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from hub.answers.offline import NO_WEATHER, asks_weather
from hub.answers.words import normalise, say_number
from hub.home.model import Entity, EntityState

MAX_DEVICES = 8
"""Most device lines given to the model: a prompt is read on every turn, and small models drown in detail."""

_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "light": ("light", "lights", "lamp", "lamps", "bright", "dark"),
    "switch": ("switch", "plug", "socket"),
    "climate": ("heating", "heater", "thermostat", "temperature", "warm", "cold", "hot", "air conditioning", "ac"),
    "sensor": ("temperature", "humidity", "warm", "cold", "hot", "degrees", "reading"),
    "cover": ("blind", "blinds", "curtain", "curtains", "shutter", "shutters", "garage", "door", "open", "closed"),
    "lock": ("lock", "locked", "unlocked", "door"),
    "fan": ("fan",),
    "media_player": ("tv", "television", "music", "speaker", "playing"),
    "binary_sensor": ("door", "window", "motion", "open", "closed"),
    "vacuum": ("vacuum", "hoover", "robot"),
}
_CONDITIONS = {
    "clear-night": "clear", "cloudy": "cloudy", "exceptional": "unusual weather", "fog": "foggy", "hail": "hail",
    "lightning": "thunderstorms", "lightning-rainy": "thunderstorms and rain", "partlycloudy": "partly cloudy",
    "pouring": "pouring rain", "rainy": "rainy", "snowy": "snowy", "snowy-rainy": "sleet", "sunny": "sunny",
    "windy": "windy", "windy-variant": "windy and cloudy",
}
_WET = ("rainy", "pouring", "lightning-rainy", "snowy-rainy", "hail")


def describe(entity: Entity, state: EntityState) -> str:
    """ "Kitchen ceiling (light, Kitchen) is on at 50% brightness." """
    where = f", {entity.area}" if entity.area else ""
    head = f"{entity.name} ({entity.domain.replace('_', ' ')}{where})"
    a = state.attributes
    if state.state in ("unavailable", "unknown"):
        return f"{head} is {state.state}."
    if entity.domain == "light" and state.state == "on" and a.get("brightness") is not None:
        return f"{head} is on at {round(int(a['brightness']) * 100 / 255)}% brightness."
    if entity.domain == "climate":
        parts = [f"mode {state.state}"]
        if a.get("temperature") is not None:
            parts.append(f"set to {a['temperature']}°")
        if a.get("current_temperature") is not None:
            parts.append(f"currently {a['current_temperature']}°")
        return f"{head}: {', '.join(parts)}."
    if entity.domain == "cover" and a.get("current_position") is not None:
        return f"{head} is {state.state}, {a['current_position']}% open."
    if entity.domain == "sensor":
        unit = a.get("unit_of_measurement") or ""
        return f"{head} reads {state.state}{' ' + unit if unit else ''}."
    return f"{head} is {state.state}."


class HomeContext:
    def __init__(self, entities: Callable[[], Sequence[Entity]], state: Callable[[Entity], EntityState | None]) -> None:
        self._entities = entities
        self._state = state

    def device_states(self, question: str, room: str) -> tuple[str, ...]:
        """Lines for the devices the question is about (and the weather when it asks about it)."""
        said = normalise(question)
        words = set(said.split())
        chosen: list[tuple[int, Entity]] = []
        for entity in self._entities():
            if not entity.exposed or entity.domain == "weather":
                continue
            score = _relevance(entity, said, words, room)
            if score:
                chosen.append((score, entity))
        chosen.sort(key=lambda pair: -pair[0])
        lines = []
        for _, entity in chosen:
            state = self._state(entity)
            if state is not None:
                lines.append(describe(entity, state))
            if len(lines) >= MAX_DEVICES:
                break
        if asks_weather(said):
            lines += self.weather_lines()
        return tuple(lines)

    def weather_lines(self) -> list[str]:
        lines = []
        for entity in self._entities():
            if entity.domain != "weather":
                continue
            state = self._state(entity)
            if state is None or state.state in ("unavailable", "unknown"):
                continue
            lines.append(f"Weather ({entity.name}): {_weather_now(state)}.{_forecast_text(state.attributes)}")
        return lines

    def weather_answer(self, question: str) -> str | None:
        """A spoken weather answer from the weather entity, NO_WEATHER without one, None if not about weather."""
        said = normalise(question)
        if not asks_weather(said):
            return None
        for entity in self._entities():
            if entity.domain != "weather":
                continue
            state = self._state(entity)
            if state is None or state.state in ("unavailable", "unknown"):
                continue
            return _spoken_weather(said, state)
        return NO_WEATHER


def _relevance(entity: Entity, said: str, words: set[str], room: str) -> int:
    names = [n.lower() for n in (entity.name, *entity.aliases) if n]
    if any(re.search(rf"\b{re.escape(n)}\b", said) for n in names):
        return 3
    kind = _KIND_WORDS.get(entity.domain, ())
    if not kind or not any(k in words or (" " in k and k in said) for k in kind):
        return 0
    area = (entity.area or "").lower()
    if area and re.search(rf"\b{re.escape(area)}\b", said):
        return 2
    named_areas = any(w in said for w in ("kitchen", "bedroom", "living room", "bathroom", "hall", "garden",
                                          "office", "garage", "dining room", "lounge"))
    if area and area == room.lower() and not named_areas:
        return 1  # "are the lights on?" asked in the kitchen is about the kitchen's lights
    return 0


def _weather_now(state: EntityState) -> str:
    a = state.attributes
    text = _CONDITIONS.get(state.state, state.state)
    if a.get("temperature") is not None:
        text += f", {say_number(float(a['temperature']))}{a.get('temperature_unit', '°C')}"
    if a.get("humidity") is not None:
        text += f", humidity {a['humidity']}%"
    return text


def _forecast(attributes: Any) -> list[dict[str, Any]]:
    forecast = attributes.get("forecast") if hasattr(attributes, "get") else None
    return [f for f in forecast if isinstance(f, dict)][:3] if isinstance(forecast, list) else []


def _forecast_text(attributes: Any) -> str:
    parts = []
    for item in _forecast(attributes):
        when = str(item.get("datetime", ""))[:16].replace("T", " ")
        bit = f"{when}: {_CONDITIONS.get(str(item.get('condition')), item.get('condition'))}"
        if item.get("precipitation_probability") is not None:
            bit += f", {item['precipitation_probability']}% chance of rain"
        parts.append(bit)
    return f" Forecast: {'; '.join(parts)}." if parts else ""


def _spoken_weather(said: str, state: EntityState) -> str:
    a = state.attributes
    unit = str(a.get("temperature_unit", "°C")).replace("°C", " degrees").replace("°F", " degrees Fahrenheit")
    now = _CONDITIONS.get(state.state, state.state)
    temperature = f" and {say_number(float(a['temperature']))}{unit}" if a.get("temperature") is not None else ""
    text = f"Right now it's {now}{temperature}."
    forecast = _forecast(a)
    if re.search(r"\b(?:rain|umbrella|wet|dry|coat|jacket)\b", said):
        upcoming = forecast[0] if forecast else None
        if upcoming is not None:
            chance = upcoming.get("precipitation_probability")
            wet = str(upcoming.get("condition")) in _WET or (chance is not None and float(chance) >= 50)
            detail = f", a {chance} percent chance" if chance is not None else ""
            text += f" Rain is {'likely' if wet else 'not expected'} next{detail}."
        elif state.state in _WET:
            text += " It's raining now; I have no forecast beyond that."
        else:
            text += " It isn't raining now; I have no forecast beyond that."
    elif forecast and re.search(r"\b(?:tomorrow|later|tonight|forecast)\b", said):
        nxt = forecast[0]
        text += f" Next: {_CONDITIONS.get(str(nxt.get('condition')), nxt.get('condition'))}."
    return text
