"""Fast-path answers: what people say most, answered without the language model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hub.intents import Intent
from hub.timers import Timer, TimerRegistry
from protocol.commands import MuteCommand, VolumeCommand
from protocol.payloads import DeviceIntent


class SatelliteActions(Protocol):
    """What a skill may do besides answering, for the satellite the turn belongs to."""

    async def timer_started(self, timer: Timer) -> None: ...

    async def timer_cancelled(self, timer: Timer) -> None: ...

    def command_satellite(self, command: MuteCommand | VolumeCommand) -> None: ...

    def device_intent(self, intent: DeviceIntent) -> None: ...

    @property
    def volume(self) -> int: ...


@dataclass(frozen=True)
class FastAnswer:
    text: str
    """What to say; empty means end the turn silently (e.g. "stop")."""


def say_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " and ".join(parts) if parts else "0 seconds"


def say_time(now: datetime) -> str:
    hour = now.hour % 12 or 12
    minute = f"{now.minute:02d}" if now.minute else "o'clock"
    if now.minute and now.minute < 10:
        minute = f"oh {now.minute}"
    return f"It's {hour} {minute} {'AM' if now.hour < 12 else 'PM'}."


class Skills:
    def __init__(self, timers: TimerRegistry, clock: Callable[[], datetime] = datetime.now) -> None:
        self._timers = timers
        self._clock = clock

    async def answer(self, intent: Intent, satellite: str, area: str, text: str,
                     actions: SatelliteActions) -> FastAnswer:
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
        return FastAnswer(f"Timer set for {say_duration(seconds)}.")

    async def _timer_cancel(self, intent: Intent, *, satellite: str, actions: SatelliteActions,
                            **_: object) -> FastAnswer:
        running = self._timers.running(satellite)
        if not running:
            return FastAnswer("There is no timer running.")
        chosen = await self._timers.cancel(satellite, None if intent.slots.get("all") else running[0].id)
        for timer in chosen:
            await actions.timer_cancelled(timer)
        return FastAnswer("Timer cancelled." if len(chosen) == 1 else f"{len(chosen)} timers cancelled.")

    async def _timer_list(self, intent: Intent, *, satellite: str, **_: object) -> FastAnswer:
        running = self._timers.running(satellite)
        if not running:
            return FastAnswer("There are no timers running.")
        spoken = [f"{say_duration(round(t.remaining()))} left" + (f" on the {t.name} timer" if t.name else "")
                  for t in running]
        return FastAnswer("You have " + ", and ".join(spoken) + ".")

    async def _stop(self, intent: Intent, **_: object) -> FastAnswer:
        return FastAnswer("")

    async def _mute(self, intent: Intent, *, actions: SatelliteActions, **_: object) -> FastAnswer:
        muted = bool(intent.slots.get("muted", True))
        actions.command_satellite(MuteCommand(command="mute", muted=muted, sender="hub"))
        return FastAnswer("Microphone muted." if muted else "Microphone on.")

    async def _volume(self, intent: Intent, *, actions: SatelliteActions, **_: object) -> FastAnswer:
        level = intent.slots.get("level")
        if level is None:
            level = actions.volume + int(intent.slots.get("step", 0))  # type: ignore[call-overload]
        level = max(0, min(100, int(level)))  # type: ignore[call-overload]
        actions.command_satellite(VolumeCommand(command="volume", volume=level, sender="hub"))
        return FastAnswer(f"Volume {level} percent.")

    async def _device(self, intent: Intent, *, satellite: str, area: str, text: str,
                      actions: SatelliteActions, **_: object) -> FastAnswer:
        action = str(intent.slots["action"])
        target = str(intent.slots["target"])
        value = intent.slots.get("value")
        actions.device_intent(DeviceIntent(
            satellite=satellite, area=area, action=action,  # type: ignore[arg-type]
            target=target, value=float(value) if value is not None else None, text=text,  # type: ignore[arg-type]
        ))
        if action == "set":
            return FastAnswer(f"Setting the {target} to {value}.")
        return FastAnswer(f"Turning {'on' if action == 'turn_on' else 'off'} the {target}.")
