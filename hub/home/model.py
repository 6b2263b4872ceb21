"""The home as the hub sees it: entities, their states, actions on them, and the backend port.

Two adapters implement :class:`HomeBackend`: Home Assistant's websocket API and MQTT devices that
publish Home Assistant discovery. Everything above them (intent matching, confirmation, answers)
sees only these types, so a light behaves the same whichever way it is reached.

Names follow Home Assistant (domains, services, attributes) because both backends speak them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class HomeSource(StrEnum):
    HOME_ASSISTANT = "home_assistant"
    MQTT = "mqtt"


@dataclass(frozen=True)
class Entity:
    """One controllable or readable thing, e.g. ``light.kitchen_ceiling``."""

    entity_id: str
    """``<domain>.<object_id>``, unique across backends (MQTT devices use their discovery object id)."""
    name: str
    """What people call it ("Kitchen ceiling")."""
    source: HomeSource
    aliases: tuple[str, ...] = ()
    area: str | None = None
    """Human area name ("Kitchen"), matched against a satellite's ``area`` case-insensitively."""
    floor: str | None = None
    exposed: bool = True
    """Home Assistant's "expose to Assist"; unexposed entities are never matched or changed."""
    features: frozenset[str] = frozenset()
    """What it can do beyond on/off: "brightness", "color", "position", "temperature"."""

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]


@dataclass(frozen=True)
class EntityState:
    entity_id: str
    state: str
    """Home Assistant's state string: "on", "off", "open", "closed", "heat", "21.5", "unavailable"."""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    """brightness (0-255), rgb_color, current_position (0-100), temperature, current_temperature, unit..."""


@dataclass(frozen=True)
class Action:
    """A service call on one entity, e.g. ``Action("light.kitchen", "turn_on", {"brightness_pct": 50})``."""

    entity_id: str
    service: str
    """Home Assistant service name in the entity's domain: turn_on, turn_off, toggle, open_cover,
    close_cover, set_cover_position, set_temperature, ..."""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    """What came of one action on one entity, as the answer and the turn report tell it."""

    entity: Entity
    action: Action
    result: str
    """confirmed | already | no_response | error"""
    ms: float
    """From sending the action to its outcome, milliseconds."""
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in ("confirmed", "already")


class HomeError(Exception):
    """A backend could not do what was asked; ``code`` is stable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


StateListener = Callable[[EntityState], None]


class HomeBackend(Protocol):
    """One way of reaching devices. Implementations own their connection task and reconnect loop."""

    source: HomeSource

    @property
    def available(self) -> bool:
        """Connected and the entity list is current."""

    def entities(self) -> Sequence[Entity]:
        """The entities known right now (may change as the home changes)."""

    def state(self, entity_id: str) -> EntityState | None:
        """The last state seen for the entity, or None if unknown."""

    def subscribe(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` for every state change; returns the unsubscribe function."""

    async def call(self, action: Action) -> None:
        """Send the action. Returns once sent (not once the device obeyed); raises :class:`HomeError`."""
