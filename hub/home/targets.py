"""Which entities a spoken device command means: by name or alias, area, floor, the satellite's room, or all.

A name that still fits several devices after preferring the satellite's room is a question to ask
back ("the ceiling light or the desk lamp?"); :func:`pick` reads the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.home.intents import spoken_form
from hub.home.model import Entity

ON_OFF_DOMAINS = ("light", "switch", "fan", "input_boolean", "cover", "climate", "valve", "lock")
_INTENT_DOMAINS = {
    "turn_on": ON_OFF_DOMAINS, "turn_off": ON_OFF_DOMAINS, "toggle": ON_OFF_DOMAINS, "light_set": ("light",),
    "set_position": ("cover", "valve"), "climate_set_temperature": ("climate",),
    "climate_get_temperature": ("climate", "sensor"),
}


@dataclass(frozen=True)
class Targets:
    entities: tuple[Entity, ...] = ()
    ambiguous: bool = False
    """Several devices answer to the name: ask which one."""
    said: str = ""
    """What the person called the target ("desk lamp", "the lights in the kitchen")."""
    area: str | None = None


def same_area(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and spoken_form(a) == spoken_form(b)


def resolve(intent_name: str, slots: dict[str, object], entities: Sequence[Entity], here: str) -> Targets:
    """The entities ``slots`` (from :class:`hub.home.intents.Intent`) point at, said on a satellite in ``here``."""
    domains = _INTENT_DOMAINS.get(intent_name)
    pool = [e for e in entities if e.exposed and (domains is None or e.domain in domains)]
    area = _str(slots.get("area"))
    floor = _str(slots.get("floor"))
    domain = _str(slots.get("domain"))
    device_class = _str(slots.get("device_class"))
    if isinstance(slots.get("entity_ids"), list | tuple):
        chosen = [e for e in pool if e.entity_id in slots["entity_ids"]]  # type: ignore[operator]
        return Targets(tuple(chosen), said=" and ".join(spoken_name(e) for e in chosen))
    name = _str(slots.get("name"))
    if name:
        named = [e for e in pool if name in (spoken_form(e.name), *map(spoken_form, e.aliases))]
        if domain:
            named = [e for e in named if e.domain == domain] or named
        if area:
            named = [e for e in named if same_area(e.area, area)]
        if floor:
            named = [e for e in named if e.floor and spoken_form(e.floor) == spoken_form(floor)]
        if len(named) > 1:
            local = [e for e in named if same_area(e.area, here)]
            named = local or named
        exact = [e for e in named if spoken_form(e.name) == name]
        if len(named) > 1 and len(exact) == 1:
            named = exact  # "lamp" is the floor lamp's name and the desk lamp's alias: the name wins
        return Targets(tuple(named), ambiguous=len(named) > 1, said=f"the {name}", area=area)
    chosen = pool
    if domain:
        chosen = [e for e in chosen if e.domain == domain]
    if device_class:
        chosen = [e for e in chosen if device_class in e.features or device_class in spoken_form(e.name)] or chosen
    if area:
        chosen = [e for e in chosen if same_area(e.area, area)]
    elif floor:
        chosen = [e for e in chosen if e.floor and spoken_form(e.floor) == spoken_form(floor)]
    elif not slots.get("all") and intent_name != "get_state":  # "which lights are on": the whole home
        chosen = [e for e in chosen if same_area(e.area, here)]
        area = here
    plural = {"light": "lights", "cover": "blinds", "switch": "switches", "fan": "fans", "climate": "thermostat"}
    what = plural.get(domain or "", "devices")
    if device_class:
        what = "garage doors" if device_class == "garage" else f"{device_class}s"
    where = f" in the {spoken_form(area)}" if area else (f" on the {spoken_form(floor)}" if floor else "")
    return Targets(tuple(chosen), said=f"{'all the ' if slots.get('all') else 'the '}{what}{where}", area=area)


def spoken_name(entity: Entity) -> str:
    return spoken_form(entity.name)


def question(choices: Sequence[Entity]) -> str:
    """ "The ceiling light or the desk lamp?" (areas added when the names are the same)."""
    names = [spoken_name(e) for e in choices]
    if len(set(names)) < len(names):
        names = [f"{spoken_form(e.area or '')} {spoken_name(e)}".strip() for e in choices]
    said = [f"the {n}" for n in names]
    text = ", ".join(said[:-1]) + f" or {said[-1]}"
    return text[0].upper() + text[1:] + "?"


def pick(text: str, choices: Sequence[Entity]) -> list[Entity]:
    """The choices an answer to :func:`question` names: "the desk lamp", "desk", "both", "the first one"."""
    said = f" {spoken_form(text)} "
    if any(f" {word} " in said for word in ("both", "all", "everything", "all of them", "each")):
        return list(choices)
    for index, word in enumerate(("first", "second", "third", "fourth")):
        if f" {word} " in said and index < len(choices):
            return [choices[index]]
    if any(f" {word} " in said for word in ("last", "latter")):
        return [choices[-1]]
    full = [c for c in choices if f" {spoken_name(c)} " in said
            or any(f" {spoken_form(a)} " in said for a in c.aliases)]
    if len(full) == 1:
        return full
    words = {c.entity_id: set(spoken_name(c).split()) | set(spoken_form(c.area or "").split()) for c in choices}
    scores = []
    for choice in choices:
        others = set().union(*(w for k, w in words.items() if k != choice.entity_id))
        scores.append(sum(1 for word in words[choice.entity_id] - others if f" {word} " in said))
    best = max(scores, default=0)
    if best and scores.count(best) == 1:
        return [choices[scores.index(best)]]
    return []


def _str(value: object) -> str | None:
    return spoken_form(str(value)) if value not in (None, "") else None
