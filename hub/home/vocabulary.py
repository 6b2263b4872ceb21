"""The words of this home: entity names and aliases, areas and floors, as hassil slot lists.

Built from the entities whichever backend serves them (exposed to Assist only), so "turn on the desk
lamp" only matches when there is a desk lamp. Names are compared in their spoken form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hassil.expression import TextChunk
from hassil.intents import SlotList, TextSlotList, TextSlotValue

from hub.home.model import Entity


def spoken_form(text: str) -> str:
    """How a name is said, for matching: lower case, no punctuation ("Desk Lamp (left)" -> "desk lamp left")."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split())


@dataclass(frozen=True)
class Vocabulary:
    """The slot lists made from the home's entities."""

    key: tuple[tuple[Any, ...], ...]
    lists: dict[str, SlotList]
    areas: dict[str, str]
    """spoken form -> area name as the home spells it."""
    names: tuple[str, ...] = ()
    """Spoken names and aliases, longest first."""

    @staticmethod
    def build(entities: Sequence[Entity]) -> Vocabulary:
        names: dict[tuple[str, str], None] = {}
        areas: dict[str, str] = {}
        floors: dict[str, str] = {}
        for entity in entities:
            if not entity.exposed:
                continue
            for said in (entity.name, *entity.aliases):
                spoken = spoken_form(said)
                if spoken:
                    names[(spoken, entity.domain)] = None
            if entity.area and spoken_form(entity.area):
                areas.setdefault(spoken_form(entity.area), entity.area)
            if entity.floor and spoken_form(entity.floor):
                floors.setdefault(spoken_form(entity.floor), entity.floor)
        lists: dict[str, SlotList] = {
            # The value is the spoken name: the control layer finds every entity called that (ambiguity is
            # its question to ask), and the domain in the context lets HA's sentences check what it can do.
            "name": TextSlotList(name="name", values=[
                TextSlotValue(TextChunk(spoken), spoken, {"domain": domain}) for spoken, domain in sorted(names)]),
            "area": TextSlotList(name="area", values=[
                TextSlotValue(TextChunk(spoken), area) for spoken, area in sorted(areas.items())]),
            "floor": TextSlotList(name="floor", values=[
                TextSlotValue(TextChunk(spoken), floor) for spoken, floor in sorted(floors.items())]),
        }
        known = tuple(sorted({name for name, _ in names}, key=len, reverse=True))
        return Vocabulary(vocabulary_key(entities), lists, areas, known)


def vocabulary_key(entities: Sequence[Entity]) -> tuple[tuple[Any, ...], ...]:
    return tuple((e.entity_id, e.name, e.aliases, e.area, e.floor, e.exposed) for e in entities)
