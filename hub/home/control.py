"""Home control over every backend: find the devices meant, act, and say so only once they did.

Success is spoken only after the new state has been seen (Home Assistant's ``state_changed`` or the
device's state topic) within ``confirm_timeout_s``; a device that stays silent is named in the answer.
A name that fits several devices is asked back once; the next thing said on that satellite answers
it. Every action is a ``device-action`` event on the bus (entity, service, result, ms), so the turn
report, the recorder and replay carry it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from hub.conversation.bus import EventBus
from hub.conversation.event_data import DeviceAction, DeviceResult
from hub.conversation.events import ConversationEvent
from hub.home import answers
from hub.home.intents import Intent
from hub.home.model import Action, ActionResult, Entity, EntityState, HomeBackend, HomeError, HomeSource
from hub.home.targets import Targets, pick, question, resolve, same_area, spoken_name

_LOGGER = logging.getLogger(__name__)


class HomeControlSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm_timeout_s: float = Field(default=3.0, gt=0, le=30,
                                     description="How long a device has to show its new state before the answer "
                                                 "says it did not respond, seconds")
    ask_back_s: float = Field(default=30.0, gt=0, le=300,
                              description="How long a question back (which device?) waits for its answer, seconds")


@dataclass
class _Question:
    intent: Intent
    choices: list[Entity]
    expires: float


@dataclass
class _Waiter:
    entity_id: str
    check: Callable[[EntityState], bool]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class HomeControl:
    """Owns no task: actions run inside the turn that asked for them."""

    def __init__(self, backends: Sequence[HomeBackend], settings: HomeControlSettings | None = None,
                 bus: EventBus | None = None) -> None:
        self.backends = list(backends)
        self.settings = settings or HomeControlSettings()
        self._bus = bus
        self._questions: dict[str, _Question] = {}
        self._waiters: list[_Waiter] = []
        for backend in self.backends:
            backend.subscribe(self._state_seen)

    # -- the home ----------------------------------------------------------------------------
    def entities(self) -> list[Entity]:
        """Every exposed entity, each device once.

        A Zigbee2MQTT bulb is seen twice when Home Assistant also reads its discovery: Home Assistant's
        entity is kept (it carries the user's aliases and areas), the MQTT one with the same name and
        domain is dropped; otherwise the first backend wins for an entity id seen twice."""
        ordered = sorted(self.backends, key=lambda b: b.source != HomeSource.HOME_ASSISTANT)
        seen: dict[str, Entity] = {}
        named: set[tuple[str, str]] = set()
        for backend in ordered:
            for entity in backend.entities():
                key = (spoken_name(entity), entity.domain)
                if not entity.exposed or entity.entity_id in seen or (
                        entity.source is HomeSource.MQTT and key in named):
                    continue
                seen[entity.entity_id] = entity
                if entity.source is HomeSource.HOME_ASSISTANT:
                    named.add(key)
        return list(seen.values())

    def _backend(self, entity: Entity) -> HomeBackend | None:
        return next((b for b in self.backends if b.source == entity.source), None)

    def state(self, entity: Entity) -> EntityState | None:
        backend = self._backend(entity)
        return backend.state(entity.entity_id) if backend is not None else None

    # -- asking back -------------------------------------------------------------------------
    def follow_up(self, satellite: str, text: str) -> Intent | None:
        """The intent completed by ``text`` if it answers this satellite's open question (asked once only)."""
        asked = self._questions.pop(satellite, None)
        if asked is None or time.monotonic() > asked.expires:
            return None
        chosen = pick(text, asked.choices)
        if not chosen:
            return None
        return Intent(asked.intent.name, {**asked.intent.slots, "entity_ids": [e.entity_id for e in chosen]})

    # -- acting ------------------------------------------------------------------------------
    async def handle(self, intent: Intent, satellite: str, area: str, turn_id: str | None = None) -> str:
        """Carry out a device intent and return what to say."""
        entities = self.entities()
        away = self._unreachable()
        if not entities:
            return f"I can't reach {away} right now." if away else "I don't know any devices yet."
        targets = resolve(intent.name, intent.slots, entities, area)
        if targets.ambiguous and "entity_ids" not in intent.slots:
            self._questions[satellite] = _Question(intent, list(targets.entities),
                                                   time.monotonic() + self.settings.ask_back_s)
            return question(targets.entities)
        if not targets.entities:
            if away:  # it may well be a device of the home we cannot see at the moment
                return f"I can't reach {away} right now, and I don't know {targets.said}."
            return self._unknown(targets, entities, area)
        if intent.name == "get_state":
            return answers.state_answer(intent, [(e, self.state(e)) for e in targets.entities])
        if intent.name == "climate_get_temperature":
            return answers.temperature_answer(targets, [(e, self.state(e)) for e in targets.entities])
        planned: list[tuple[Entity, Action]] = []
        for entity in targets.entities:
            try:
                planned.append((entity, answers.plan(intent, entity, self.state(entity))))
            except HomeError as err:
                if len(targets.entities) == 1:
                    return str(err)
        if not planned:
            return f"I can't do that with {targets.said}."
        results = await asyncio.gather(*(self._act(entity, action, satellite, turn_id) for entity, action in planned))
        return answers.done_answer(intent, targets, list(results))

    def _unreachable(self) -> str:
        """The ways to devices that are down, for people ("Home Assistant"), or ""."""
        names = {HomeSource.HOME_ASSISTANT: "Home Assistant", HomeSource.MQTT: "the MQTT broker"}
        return " or ".join(names.get(b.source, str(b.source)) for b in self.backends if not b.available)

    def _unknown(self, targets: Targets, entities: Sequence[Entity], here: str) -> str:
        room = targets.area or here
        local = [spoken_name(e) for e in entities if same_area(e.area, room)]
        known = f" In the {room.lower()} I know {answers.join(local)}." if local else ""
        return f"I don't know {targets.said}.{known}"

    async def _act(self, entity: Entity, action: Action, satellite: str, turn_id: str | None) -> ActionResult:
        started = time.monotonic()
        check = answers.expectation(action)
        before = self.state(entity)
        waiter = _Waiter(entity.entity_id, check)
        self._waiters.append(waiter)
        backend = self._backend(entity)
        try:
            if backend is None:
                raise HomeError("no_backend", f"nothing serves {entity.entity_id}")
            await backend.call(action)
            already = before is not None and check(before)
            try:
                await asyncio.wait_for(waiter.done.wait(), 0.3 if already else self.settings.confirm_timeout_s)
                result = ActionResult(entity, action, "confirmed", _ms(started))
            except TimeoutError:
                # Home Assistant sends no state_changed when nothing changed: a device already in the
                # asked state is done (unless a state that contradicts it has arrived meanwhile).
                now = self.state(entity)
                ok = already and now is not None and check(now)
                result = ActionResult(entity, action, "already" if ok else "no_response", _ms(started))
        except HomeError as err:
            result = ActionResult(entity, action, "error", _ms(started), err.code, str(err))
        finally:
            self._waiters.remove(waiter)
        _LOGGER.info("%s %s %s: %s in %.0f ms", satellite, action.service, entity.entity_id, result.result, result.ms)
        if self._bus is not None:
            self._bus.emit(ConversationEvent(satellite, DeviceAction(
                entity=entity.entity_id, service=action.service, data=dict(action.data),
                result=DeviceResult(result.result), ms=round(result.ms, 1), code=result.code, source=entity.source),
                turn_id=turn_id))
        return result

    def _state_seen(self, state: EntityState) -> None:
        for waiter in self._waiters:
            if waiter.entity_id == state.entity_id and waiter.check(state):
                waiter.done.set()


def _ms(started: float) -> float:
    return 1000 * (time.monotonic() - started)
