"""The home as Home Assistant describes it: entities from its registries, their states, who wants to hear of changes.

:func:`read_home` asks HA for everything at once (on each connection, and again after registry events);
:class:`HaHome` keeps the result and follows ``state_changed`` events. An entity HA removed disappears
with its state; a state listener that raises is logged and the others still hear the change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from hub.home.ha_registry import HaRegistries
from hub.home.ha_websocket import HaRejected
from hub.home.model import Entity, EntityState, StateListener

_LOGGER = logging.getLogger(__name__)

Command = Callable[[dict[str, Any]], Awaitable[Any]]


async def read_home(command: Command) -> tuple[HaRegistries, list[Mapping[str, Any]]]:
    """HA's registries (areas, floors, devices, entities, exposure) and every state.

    Older HA lacks some commands: without floors every ``floor`` is None; without
    ``homeassistant/expose_entity/list`` (before 2023.5) every entity counts as exposed.
    """
    async def optional(kind: str) -> Any:
        try:
            return await command({"type": kind})
        except HaRejected as err:
            if err.ha_code != "unknown_command":
                raise
            return None

    areas = await command({"type": "config/area_registry/list"})
    floors = await optional("config/floor_registry/list") or []
    devices = await command({"type": "config/device_registry/list"})
    registry = await command({"type": "config/entity_registry/list"})
    exposure = await optional("homeassistant/expose_entity/list")
    states = await command({"type": "get_states"})
    ids = [e["entity_id"] for e in registry if not e.get("disabled_by")]
    extended = await command({"type": "config/entity_registry/get_entries", "entity_ids": ids}) if ids else {}
    registries = HaRegistries.parse(areas=areas, floors=floors, devices=devices, entries=registry,
                                    extended=extended, exposure=exposure)
    return registries, states


class HaHome:
    """Entities and states as last read or heard from HA."""

    def __init__(self) -> None:
        self._entities: dict[str, Entity] = {}
        self._states: dict[str, EntityState] = {}
        self._listeners: list[StateListener] = []
        self._registries = HaRegistries()

    def __len__(self) -> int:
        return len(self._entities)

    def entities(self) -> Sequence[Entity]:
        return tuple(self._entities.values())

    def entity(self, entity_id: str) -> Entity | None:
        return self._entities.get(entity_id)

    def state(self, entity_id: str) -> EntityState | None:
        return self._states.get(entity_id)

    def subscribe(self, listener: StateListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def replace(self, registries: HaRegistries, states: Sequence[Mapping[str, Any]]) -> None:
        """A fresh read: what HA no longer has goes, every state is applied (listeners hear the changed ones)."""
        self._registries = registries
        fresh = {s["entity_id"] for s in states}
        for gone in set(self._states) - fresh:
            self._states.pop(gone, None)
            self._entities.pop(gone, None)
        for state in states:
            self.apply_state(state)

    def apply_state(self, raw: Mapping[str, Any]) -> None:
        """One state object as HA sends it (``get_states`` item or a ``state_changed`` new_state)."""
        entity_id = raw["entity_id"]
        state = EntityState(entity_id, str(raw.get("state")), dict(raw.get("attributes") or {}))
        previous = self._states.get(entity_id)
        self._states[entity_id] = state
        entity = self._registries.entity(state)
        if entity is None:
            self._entities.pop(entity_id, None)
        else:
            self._entities[entity_id] = entity
        if previous == state:
            return
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                _LOGGER.exception("state listener failed for %s", entity_id)
