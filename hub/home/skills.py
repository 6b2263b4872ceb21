"""Fast-path answers: what people say most, answered without the language model."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from hub.home.intents import DEVICE_INTENTS, Intent
from hub.home.model import HomeError
from hub.home.timers import Timer, TimerRegistry

if TYPE_CHECKING:
    from hub.home.control import HomeControl

_LOGGER = logging.getLogger(__name__)


class SatelliteActions(Protocol):
    """What a skill may do besides answering, for the satellite the turn belongs to."""

    async def timer_started(self, timer: Timer) -> None: ...

    async def timer_cancelled(self, timer: Timer) -> None: ...

    async def set_volume(self, volume: int) -> bool:
        """False: this satellite cannot be reached for it (neither our Wyoming extension nor MQTT)."""

    async def set_muted(self, muted: bool) -> bool: ...

    @property
    def volume(self) -> int | None:
        """As the satellite last said; None if it never has."""


@dataclass(frozen=True)
class FastAnswer:
    text: str
    """What to say; empty means end the turn silently (e.g. "stop")."""


def say_duration(seconds: int, *, before_noun: bool = False) -> str:
    """ "2 minutes and 30 seconds"; ``before_noun``: "2 minute and 30 second" (as in "the 5 minute timer")."""
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 and not before_noun else ''}")
    return " and ".join(parts) if parts else "0 seconds"


def say_time(now: datetime) -> str:
    hour = now.hour % 12 or 12
    minute = f"{now.minute:02d}" if now.minute else "o'clock"
    if now.minute and now.minute < 10:
        minute = f"oh {now.minute}"
    return f"It's {hour} {minute} {'AM' if now.hour < 12 else 'PM'}."


def timer_label(timer: Timer) -> str:
    return f"the {timer.name} timer" if timer.name else f"the {say_duration(timer.total_seconds, before_noun=True)} timer"


class Skills:
    def __init__(self, timers: TimerRegistry, clock: Callable[[], datetime] = datetime.now,
                 home: HomeControl | None = None) -> None:
        self._timers = timers
        self._clock = clock
        self.home = home
        self.assist: Callable[[str], Awaitable[str | None]] | None = None
        """Home Assistant's Assist (``[home_assistant] assist_fallback``): its answer, None if it did not understand."""

    async def assist_answer(self, text: str) -> str | None:
        """What Home Assistant's Assist says to ``text`` that nothing of ours understood; None: the LLM answers."""
        if self.assist is None:
            return None
        try:
            return await self.assist(text)
        except HomeError as err:  # HA away: the language model still answers
            _LOGGER.info("Assist could not answer (%s): %s", err.code, err)
            return None

    def follow_up(self, satellite: str, text: str) -> Intent | None:
        """The intent ``text`` completes if it answers a question this satellite was just asked."""
        return self.home.follow_up(satellite, text) if self.home is not None else None

    async def answer(self, intent: Intent, satellite: str, area: str, text: str,
                     actions: SatelliteActions, turn_id: str | None = None) -> FastAnswer:
        if intent.name in DEVICE_INTENTS:
            if self.home is None:
                return FastAnswer("Home control is not set up on this hub.")
            return FastAnswer(await self.home.handle(intent, satellite, area, turn_id))
        handler: Callable[..., Awaitable[FastAnswer]] = getattr(self, f"_{intent.name}")
        return await handler(intent, satellite=satellite, area=area, text=text, actions=actions)

    async def _time(self, intent: Intent, **_: object) -> FastAnswer:
        return FastAnswer(say_time(self._clock()))

    async def _date(self, intent: Intent, **_: object) -> FastAnswer:
        now = self._clock()
        return FastAnswer(f"Today is {now.strftime('%A')}, {now.strftime('%B')} {now.day}.")

    async def _timer_start(self, intent: Intent, *, satellite: str, actions: SatelliteActions,
                           **_: object) -> FastAnswer:
        seconds = int(intent.slots["seconds"])  # type: ignore[call-overload]
        name = intent.slots.get("name")
        timer = self._timers.start(satellite, seconds, str(name) if name else None)
        await actions.timer_started(timer)
        called = f" called {timer.name}" if timer.name else ""
        return FastAnswer(f"Timer{called} set for {say_duration(seconds)}.")

    def _chosen(self, intent: Intent, satellite: str) -> list[Timer]:
        name = intent.slots.get("name")
        seconds = intent.slots.get("seconds")
        return self._timers.find(satellite, str(name) if name else None, int(seconds) if seconds else None)  # type: ignore[call-overload]

    async def _timer_cancel(self, intent: Intent, *, satellite: str, actions: SatelliteActions,
                            **_: object) -> FastAnswer:
        chosen = self._chosen(intent, satellite)
        if not chosen:
            return FastAnswer("There is no timer like that." if self._timers.running(satellite)
                              else "There is no timer running.")
        if not intent.slots.get("all"):
            chosen = chosen[:1]
        for timer in chosen:
            for cancelled in await self._timers.cancel(satellite, timer.id):
                await actions.timer_cancelled(cancelled)
        if len(chosen) == 1:
            return FastAnswer(f"{timer_label(chosen[0]).capitalize()} is cancelled.")
        return FastAnswer(f"{len(chosen)} timers cancelled.")

    async def _timer_pause(self, intent: Intent, *, satellite: str, **_: object) -> FastAnswer:
        chosen = [t for t in self._chosen(intent, satellite) if not t.paused]
        if not chosen:
            return FastAnswer("There is no running timer to pause.")
        paused = await self._timers.pause(chosen[0])
        return FastAnswer(f"Paused {timer_label(paused)} with {say_duration(round(paused.remaining()))} left.")

    async def _timer_resume(self, intent: Intent, *, satellite: str, **_: object) -> FastAnswer:
        chosen = [t for t in self._chosen(intent, satellite) if t.paused]
        if not chosen:
            return FastAnswer("There is no paused timer.")
        running = self._timers.resume(chosen[0])
        return FastAnswer(f"Resumed {timer_label(running)}: {say_duration(round(running.remaining()))} left.")

    async def _timer_list(self, intent: Intent, *, satellite: str, **_: object) -> FastAnswer:
        running = self._chosen(intent, satellite)
        if not running:
            return FastAnswer("There are no timers running." if not intent.slots.get("name")
                              else f"There is no {intent.slots['name']} timer.")
        spoken = [f"{say_duration(round(t.remaining()))} left" + (f" on the {t.name} timer" if t.name else "")
                  + (", paused" if t.paused else "") for t in running]
        return FastAnswer("You have " + ", and ".join(spoken) + ".")

    async def _device_unclear(self, intent: Intent, **_: object) -> FastAnswer:
        return FastAnswer(f"Sorry, what should I do with the {intent.slots['name']}?")

    async def _stop(self, intent: Intent, **_: object) -> FastAnswer:
        return FastAnswer("")

    async def _nevermind(self, intent: Intent, **_: object) -> FastAnswer:
        return FastAnswer("")

    async def _mute(self, intent: Intent, *, actions: SatelliteActions, **_: object) -> FastAnswer:
        muted = bool(intent.slots.get("muted", True))
        if not await actions.set_muted(muted):
            return FastAnswer(f"I can't {'mute' if muted else 'unmute'} the microphone on this satellite.")
        return FastAnswer("Microphone muted." if muted else "Microphone on.")

    async def _volume(self, intent: Intent, *, actions: SatelliteActions, **_: object) -> FastAnswer:
        level = intent.slots.get("level")
        if level is None:
            if actions.volume is None:  # a step from a guess could blast the room: ask for a number
                return FastAnswer("I don't know how loud this satellite is now. Say a level, like volume 50.")
            level = actions.volume + int(intent.slots.get("step", 0))  # type: ignore[call-overload]
        level = max(0, min(100, int(level)))  # type: ignore[call-overload]
        if not await actions.set_volume(level):
            return FastAnswer("I can't change the volume on this satellite.")
        return FastAnswer(f"Volume {level} percent.")
