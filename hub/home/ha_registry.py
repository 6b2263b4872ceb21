"""What Home Assistant's registries say about its entities, as :class:`~hub.home.model.Entity` objects.

Parsed once per sync from the answers to ``config/area_registry/list``, ``config/floor_registry/list``,
``config/device_registry/list``, ``config/entity_registry/list`` (+ ``get_entries`` for aliases) and
``homeassistant/expose_entity/list``. An entity's area is its own, else its device's; its name is
what HA shows (``friendly_name``); what it can do comes from its state's attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.home.model import Entity, EntityState, HomeSource

_COLOR_MODES = {"hs", "xy", "rgb", "rgbw", "rgbww"}


@dataclass(frozen=True)
class HaRegistries:
    areas: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    """area_id -> (area name, floor name or None)."""
    devices: Mapping[str, str | None] = field(default_factory=dict)
    """device_id -> its area_id."""
    entries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """entity_id -> its registry entry, aliases included."""
    exposed: Mapping[str, bool] | None = None
    """entity_id -> exposed to Assist; None where HA is too old to say (then everything is)."""

    @classmethod
    def parse(cls, *, areas: Sequence[Mapping[str, Any]], floors: Sequence[Mapping[str, Any]],
              devices: Sequence[Mapping[str, Any]], entries: Sequence[Mapping[str, Any]],
              extended: Mapping[str, Mapping[str, Any] | None], exposure: Mapping[str, Any] | None) -> HaRegistries:
        floor_names = {f["floor_id"]: f["name"] for f in floors}
        return cls(
            areas={a["area_id"]: (a["name"], floor_names.get(a.get("floor_id"))) for a in areas},
            devices={d["id"]: d.get("area_id") for d in devices},
            entries={e["entity_id"]: {**e, **(extended.get(e["entity_id"]) or {})} for e in entries},
            exposed=None if exposure is None else {
                k: bool(v.get("conversation")) for k, v in exposure.get("exposed_entities", {}).items()},
        )

    def entity(self, state: EntityState) -> Entity | None:
        """The entity behind ``state``; None for a disabled one."""
        entry = self.entries.get(state.entity_id, {})
        if entry.get("disabled_by"):
            return None
        area_id = entry.get("area_id") or self.devices.get(entry.get("device_id") or "")
        area, floor = self.areas.get(area_id or "", (None, None))
        domain, object_id = state.entity_id.split(".", 1)
        name = state.attributes.get("friendly_name") or entry.get("name") or entry.get("original_name")
        return Entity(entity_id=state.entity_id, name=str(name or object_id.replace("_", " ")),
                      source=HomeSource.HOME_ASSISTANT, aliases=tuple(sorted(entry.get("aliases") or ())),
                      area=area, floor=floor,
                      exposed=True if self.exposed is None else self.exposed.get(state.entity_id, False),
                      features=features(domain, state.attributes))


def features(domain: str, attributes: Mapping[str, Any]) -> frozenset[str]:
    """What an entity can do beyond on/off, in :class:`Entity` ``features`` words."""
    found = set()
    supported = int(attributes.get("supported_features") or 0)
    if domain == "light":
        modes = set(attributes.get("supported_color_modes") or ())
        if modes - {"onoff", "unknown"}:
            found.add("brightness")
        if modes & _COLOR_MODES:
            found.add("color")
        if "color_temp" in modes:
            found.add("color_temp")
    elif domain == "cover" and supported & 4:  # CoverEntityFeature.SET_POSITION
        found.add("position")
    elif domain == "climate" and supported & 1:  # ClimateEntityFeature.TARGET_TEMPERATURE
        found.add("temperature")
    elif domain == "media_player" and supported & 4:  # MediaPlayerEntityFeature.VOLUME_SET
        found.add("volume")
    return frozenset(found)
