"""Device intents as service calls, what each call should change, and the sentences spoken about it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hub.home.intents import Intent
from hub.home.model import Action, ActionResult, Entity, EntityState, HomeError
from hub.home.targets import Targets, spoken_name

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255),
    "yellow": (255, 255, 0), "orange": (255, 165, 0), "purple": (128, 0, 128), "pink": (255, 192, 203),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "violet": (238, 130, 238), "brown": (165, 42, 42),
    "gold": (255, 215, 0), "teal": (0, 128, 128), "indigo": (75, 0, 130), "turquoise": (64, 224, 208),
}
_MOVING = {"opening", "closing"}


def plan(intent: Intent, entity: Entity, state: EntityState | None) -> Action:
    """The service call for ``intent`` on ``entity``; HomeError (with a spoken message) if it cannot."""
    name, slots, domain = intent.name, intent.slots, entity.domain
    if name == "toggle":
        is_on = state is not None and state.state in ("on", "open", "opening", "heat", "cool", "auto")
        name = "turn_off" if is_on else "turn_on"
    if name in ("turn_on", "turn_off"):
        on = name == "turn_on"
        if domain == "cover":
            return Action(entity.entity_id, "open_cover" if on else "close_cover")
        if domain in ("sensor", "binary_sensor"):
            raise HomeError("unsupported", f"The {spoken_name(entity)} can't be switched.")
        return Action(entity.entity_id, name)
    if name == "light_set":
        if slots.get("brightness") is not None:
            return Action(entity.entity_id, "turn_on", {"brightness_pct": slots["brightness"]})
        color = str(slots.get("color") or "").lower()
        if color in COLORS:
            return Action(entity.entity_id, "turn_on", {"rgb_color": list(COLORS[color])})
        raise HomeError("unsupported", f"I can't set the {spoken_name(entity)} like that.")
    if name == "set_position":
        return Action(entity.entity_id, "set_cover_position", {"position": slots["position"]})
    if name == "climate_set_temperature":
        return Action(entity.entity_id, "set_temperature", {"temperature": slots["temperature"]})
    raise HomeError("unsupported", f"I can't do that with the {spoken_name(entity)}.")


def expectation(action: Action) -> Callable[[EntityState], bool]:
    """What the entity's state looks like once ``action`` has happened."""
    service, data = action.service, action.data

    def check(state: EntityState) -> bool:
        attrs = state.attributes
        if service == "turn_on" and action.entity_id.startswith("climate."):
            return state.state not in ("off", "unavailable", "unknown")
        if service == "turn_on":
            if state.state != "on":
                return False
            if data.get("brightness_pct") is not None and isinstance(attrs.get("brightness"), int | float):
                return abs(attrs["brightness"] - float(data["brightness_pct"]) * 255 / 100) <= 3
            if data.get("rgb_color") is not None and isinstance(attrs.get("rgb_color"), list | tuple):
                return all(abs(int(a) - int(b)) <= 3 for a, b in zip(attrs["rgb_color"], data["rgb_color"], strict=False))
            return True
        if service == "turn_off":
            return state.state == "off"
        if service == "open_cover":
            return state.state in ("open", "opening")
        if service == "close_cover":
            return state.state in ("closed", "closing")
        if service == "set_cover_position":
            position = attrs.get("current_position")
            return state.state in _MOVING or (isinstance(position, int | float)
                                               and abs(position - float(data["position"])) <= 1)
        if service == "set_temperature":
            target = attrs.get("temperature")
            return isinstance(target, int | float) and abs(target - float(data["temperature"])) < 0.01
        return False

    return check


def join(items: Sequence[str]) -> str:
    said = [f"the {item}" for item in items]
    if len(said) <= 1:
        return "".join(said)
    return ", ".join(said[:-1]) + f" and {said[-1]}"


def done_answer(intent: Intent, targets: Targets, results: list[ActionResult]) -> str:
    ok = [r for r in results if r.ok]
    silent = [r for r in results if r.result == "no_response"]
    failed = [r for r in results if r.result == "error"]
    parts: list[str] = []
    if ok:
        parts.append(_success(intent, targets, ok, whole=len(ok) == len(results)))
    if silent:
        names = join([spoken_name(r.entity) for r in silent])
        parts.append(f"{names[0].upper()}{names[1:]} did not respond." if not ok else f"but {names} did not respond.")
    for result in failed:
        parts.append(f"I couldn't reach the {spoken_name(result.entity)}: {result.message}.")
    text = " ".join(parts)
    return text.replace(". but", ", but")


def _success(intent: Intent, targets: Targets, ok: list[ActionResult], *, whole: bool) -> str:
    names = join([spoken_name(r.entity) for r in ok])
    if whole and len(ok) > 2 and not intent.slots.get("name"):
        names = f"{len(ok)} {targets.said.replace('all the ', '').replace('the ', '', 1)}"
    service, data = ok[0].action.service, ok[0].action.data
    if service == "turn_on" and data.get("brightness_pct") is not None:
        return f"Set {names} to {data['brightness_pct']} percent."
    if service == "turn_on" and data.get("rgb_color") is not None:
        return f"Set {names} to {intent.slots.get('color')}."
    verb = {"turn_on": "Turned on", "turn_off": "Turned off", "open_cover": "Opened", "close_cover": "Closed"}.get(service)
    if verb:
        return f"{verb} {names}."
    if service == "set_cover_position":
        return f"Set {names} to {data['position']} percent."
    if service == "set_temperature":
        return f"Set {names} to {_num(data['temperature'])} degrees."
    return f"Done with {names}."


def state_answer(intent: Intent, found: Sequence[tuple[Entity, EntityState | None]]) -> str:
    asked = str(intent.slots.get("state") or "")
    lines = []
    for entity, state in found:
        name = spoken_name(entity)
        if state is None or state.state in ("unknown", "unavailable"):
            lines.append(f"I don't know what the {name} is doing right now.")
            continue
        said = _state_words(entity, state)
        if asked and len(found) == 1:
            yes = state.state == asked or (asked == "on" and state.state in ("open", "heat", "cool", "auto"))
            return f"{'Yes' if yes else 'No'}, the {name} is {said}."
        lines.append(f"The {name} is {said}.")
    return " ".join(lines)


def _state_words(entity: Entity, state: EntityState) -> str:
    attrs = state.attributes
    if entity.domain == "sensor":
        unit = str(attrs.get("unit_of_measurement") or "")
        unit = {"°C": " degrees", "°F": " degrees", "%": " percent"}.get(unit, f" {unit}" if unit else "")
        return f"{state.state}{unit}"
    if entity.domain == "light" and state.state == "on" and isinstance(attrs.get("brightness"), int | float):
        return f"on at {round(attrs['brightness'] * 100 / 255)} percent"
    if entity.domain == "climate" and isinstance(attrs.get("temperature"), int | float):
        return f"set to {_num(attrs['temperature'])} degrees"
    return state.state


def temperature_answer(targets: Targets, found: Sequence[tuple[Entity, EntityState | None]]) -> str:
    where = f" in the {targets.area}" if targets.area else ""
    for entity, state in sorted(found, key=lambda item: item[0].domain != "climate"):
        unit = str((state.attributes.get("unit_of_measurement") if state else "") or "")
        if state is None or (entity.domain == "sensor" and "°" not in unit and "temperature" not in entity.name.lower()):
            continue
        current = state.attributes.get("current_temperature") if entity.domain == "climate" else state.state
        try:
            return f"It's {_num(float(current))} degrees{where}."  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return f"I don't have a temperature{where} right now."


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
