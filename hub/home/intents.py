"""The fast path: what people say most, recognised without the language model in a few milliseconds.

Sentences come from Home Assistant's own Assist data (``home-assistant-intents``), matched by
``hassil``, plus a few of our own where HA has none (mute, stop, toggle, some light phrasings).
Names, aliases, areas and floors come from the home's entities, whichever backend serves them, so
"turn on the desk lamp" only matches when there is a desk lamp.

``IntentMatcher.match(text, area)`` returns an :class:`Intent` or ``None`` (the LLM answers). The
satellite's ``area`` makes "turn on the lights" mean that room's lights; "all the lights" means all.
The sentence templates are parsed once (:mod:`hub.home.intent_data`); the slot lists are rebuilt only when
the entity list changes (:mod:`hub.home.vocabulary`).
Matching is deterministic: hassil's best result (an entity name beats an area, then the most literal
text), ties broken by intent name. When nothing fits, three narrow fallbacks keep device commands
away from the LLM: a short leading clause ("and Service, turn on ...") is dropped, "turn on the
toaster" becomes a command for an unknown device (the answer says so), and a known device with a
command word but no fitting sentence is asked about again.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hassil import Intents, recognize_all, recognize_best
from hassil.models import UnmatchedTextEntity
from hassil.recognize import RecognizeResult

from hub.home.intent_data import DEVICE_NAMES, OTHER_NAMES, load_intents
from hub.home.model import Entity
from hub.home.vocabulary import Vocabulary, spoken_form, vocabulary_key

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intent:
    name: str
    """time, date, timer_start, timer_cancel, timer_pause, timer_resume, timer_list, stop, nevermind, volume,
    mute, device_unclear (a known device, no command that fits), or a device intent (:data:`DEVICE_INTENTS`)."""
    slots: dict[str, object] = field(default_factory=dict)
    """Device intents: name, area, floor, domain, device_class, all, state, brightness, color, position,
    temperature (whatever was said; the area may come from the satellite)."""


DEVICE_INTENTS = frozenset({
    "turn_on", "turn_off", "toggle", "light_set", "set_position", "climate_set_temperature", "get_state",
    "climate_get_temperature",
})

_LEADING_CLAUSE = re.compile(r"^\s*([^,.!?;:]+)[,.!?;:]+\s+(\S.*)$")
_LEADING_WORDS = 3
_VOLUME_STEP = 10
"""Percent per "volume up" / "louder"."""

_UNKNOWN_NAME_WORDS = 3
_NOT_A_NAME = frozenset({"is", "are", "was", "it", "that", "this", "what", "which", "who", "how", "why", "when", "where",
                         "all", "every", "each", "true", "of", "for", "and", "or", "to", "a", "an", "if", "i", "you",
                         "me", "we", "please"})
"""Words that show an unmatched "name" is really part of a sentence ("is it true that ... is broken")."""


class IntentMatcher:
    """Thread-safe; ``entities`` is called on every match (cheap) to notice a changed home."""

    def __init__(self, entities: Callable[[], Sequence[Entity]] = tuple) -> None:
        self._entities = entities
        self._intents, self._unknown = _shared_intents()
        self._vocabulary = Vocabulary.build(())
        self._lock = threading.Lock()

    @property
    def vocabulary(self) -> Vocabulary:
        entities = self._entities()
        with self._lock:
            if vocabulary_key(entities) != self._vocabulary.key:
                self._vocabulary = Vocabulary.build(entities)
                _LOGGER.info("intent vocabulary rebuilt: %d entities, %d areas", len(entities),
                             len(self._vocabulary.areas))
            return self._vocabulary

    def match(self, text: str, area: str | None = None) -> Intent | None:
        """The intent said in ``text`` on a satellite in ``area``, or None (then the LLM answers)."""
        if not text.strip():
            return None
        vocabulary = self.vocabulary
        context: dict[str, Any] = {}
        if area:
            home_area = vocabulary.areas.get(spoken_form(area), area)
            context["area"] = {"value": home_area, "text": home_area}
        result = recognize_best(text, self._intents, slot_lists=vocabulary.lists, intent_context=context,
                                best_slot_name="name")
        lead = _LEADING_CLAUSE.match(text)
        if result is None and lead is not None and len(lead.group(1).split()) <= _LEADING_WORDS:
            # "And Service, turn on the kitchen light.": a short first clause (a wake word's leftover that
            # the clean-up did not recognise) before a whole command; the command alone is matched.
            text = lead.group(2)
            result = recognize_best(text, self._intents, slot_lists=vocabulary.lists, intent_context=context,
                                    best_slot_name="name")
        if result is None:
            return self._unknown_device(text, vocabulary, context) or _unclear_device(text, vocabulary)
        return _to_intent(result)

    def _unknown_device(self, text: str, vocabulary: Vocabulary, context: dict[str, Any]) -> Intent | None:
        """ "Turn on the toaster" with no toaster: a device intent naming what was said, so the answer can
        say it is unknown (and what is known) instead of the LLM pretending to switch it."""
        best: tuple[int, int, str, str, str | None] | None = None
        for result in recognize_all(text, self._unknown, slot_lists=vocabulary.lists, intent_context=context,
                                    allow_unmatched_entities=True):
            unmatched = result.unmatched_entities
            name = unmatched.get("name")
            if (not isinstance(name, UnmatchedTextEntity) or not set(unmatched) <= {"name", "domain"}
                    or result.text_chunks_matched == 0):
                continue
            said = spoken_form(name.text)
            said = said[4:] if said.startswith("the ") else said
            if not said or len(said.split()) > _UNKNOWN_NAME_WORDS or _NOT_A_NAME & set(said.split()[1:]):
                continue
            area = result.entities.get("area")
            # The most literal text wins ("is the toaster on" is a question, not "turn on 'is the toaster'").
            candidate = (-result.text_chunks_matched, len(said), result.intent.name, said,
                         str(area.value) if area is not None else None)
            if best is None or candidate < best:
                best = candidate
        if best is None:
            return None
        slots: dict[str, object] = {"name": best[3], "unknown": True, "all": False}
        if best[4]:
            slots["area"] = best[4]
        question = re.match(r"^(?:is|are) (?:the |my )?(.+)$", best[3])
        if question:  # "is the toaster on": an unmatched name swallows "is the"; it is a question
            words = spoken_form(text).split()
            slots.update(name=question.group(1), state=words[-1] if words[-1] in ("on", "off") else "on")
            return Intent("get_state", slots)
        return Intent(DEVICE_NAMES[best[2]], slots)


_DEVICE_CUE = re.compile(r" (on|off|open|close|dim|brighten|brightness|percent|degrees?) |%")
_QUESTION_WORDS = frozenset({"what", "how", "why", "when", "who", "where", "which", "does", "do", "can", "could",
                             "should", "would", "will", "is", "are", "was", "tell", "explain"})


def _unclear_device(text: str, vocabulary: Vocabulary) -> Intent | None:
    """A known device named with a command word but no sentence that fits ("at the desk light brightness to 40%",
    a misheard "set"): the hub asks again rather than let the language model pretend it switched something."""
    said = f" {spoken_form(text)} "
    words = said.split()
    if not words or words[0] in _QUESTION_WORDS or not _DEVICE_CUE.search(f"{said} {text}"):
        return None  # a question about a device is the language model's
    name = next((n for n in vocabulary.names if f" {n} " in said), None)
    return Intent("device_unclear", {"name": name}) if name else None


def _to_intent(result: RecognizeResult) -> Intent | None:
    hass_name = result.intent.name
    values = {name: entity.value for name, entity in result.entities.items()}
    combination = str((result.intent_metadata or {}).get("slot_combination", ""))
    if hass_name in DEVICE_NAMES:
        slots: dict[str, object] = {k: values[k] for k in (
            "name", "area", "floor", "domain", "device_class", "state", "color") if values.get(k) is not None}
        for number in ("brightness", "position", "temperature"):
            if values.get(number) is not None:
                slots[number] = _number(values[number])
        if isinstance(values.get("temperature"), str):  # a colour temperature name ("warm white")
            slots.pop("temperature")
        slots["all"] = combination.endswith("_all")
        return Intent(DEVICE_NAMES[hass_name], slots)
    name = OTHER_NAMES[hass_name]
    if name == "timer_start":
        seconds = _duration(values, "")
        if not seconds:
            return None
        return Intent(name, {"seconds": seconds, "name": _text(values.get("name"))})
    if name in ("timer_cancel", "timer_pause", "timer_resume", "timer_list"):
        slots = {"name": _text(values.get("name")), "seconds": _duration(values, "start_") or None}
        if name == "timer_cancel":
            slots["all"] = hass_name == "HassCancelAllTimers"
        return Intent(name, slots)
    if name == "volume":
        if values.get("volume_level") is not None:
            return Intent(name, {"level": int(max(0, min(100, _number(values["volume_level"]))))})
        step = values.get("volume_step")
        if isinstance(step, int | float):
            return Intent(name, {"step": int(step)})
        said = result.original_text.lower()
        down = step == "down" or any(word in said for word in ("down", "quieter", "softer", "lower", "decrease"))
        return Intent(name, {"step": -_VOLUME_STEP if down else _VOLUME_STEP})
    if name == "mute":
        return Intent(name, {"muted": hass_name == "HearthMute"})
    return Intent(name)


def _number(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    return int(number) if number.is_integer() else number


def _duration(values: dict[str, Any], prefix: str) -> int:
    total = 0.0
    for unit, size in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        value = values.get(prefix + unit)
        if isinstance(value, int | float):
            total += value * size
    return int(total)


def _text(value: object) -> str | None:
    return str(value).strip() if value else None


_INTENTS: tuple[Intents, Intents] | None = None
_INTENTS_LOCK = threading.Lock()


def _shared_intents() -> tuple[Intents, Intents]:
    """One parse of the sentence data per process (every matcher shares it; it is read-only)."""
    global _INTENTS
    with _INTENTS_LOCK:
        if _INTENTS is None:
            _INTENTS = (load_intents(), load_intents(unknown_names=True))
            # hassil parses templates lazily: match once now so the first person does not wait for it.
            empty = Vocabulary.build(()).lists
            recognize_best("what time is it", _INTENTS[0], slot_lists=empty)
            list(recognize_all("turn on the thing", _INTENTS[1], slot_lists=empty, allow_unmatched_entities=True))
        return _INTENTS
