"""Timers per satellite: started by voice or MQTT, announced with Wyoming timer events."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timer:
    id: str
    satellite: str
    name: str | None
    total_seconds: int
    ends_at: float
    """Monotonic clock."""

    def remaining(self, now: float | None = None) -> float:
        return max(0.0, self.ends_at - (time.monotonic() if now is None else now))


FinishedCallback = Callable[[Timer], Awaitable[None]]


class TimerRegistry:
    """Owns one task per running timer; cancelling a timer cancels and awaits its task."""

    def __init__(self, on_finished: FinishedCallback) -> None:
        self._on_finished = on_finished
        self._timers: dict[str, tuple[Timer, asyncio.Task[None]]] = {}
        self._ids = itertools.count(1)

    def start(self, satellite: str, seconds: int, name: str | None = None) -> Timer:
        timer = Timer(f"{satellite}-{next(self._ids)}", satellite, name, seconds, time.monotonic() + seconds)
        task = asyncio.create_task(self._run(timer), name=f"timer-{timer.id}")
        self._timers[timer.id] = (timer, task)
        return timer

    async def _run(self, timer: Timer) -> None:
        await asyncio.sleep(timer.total_seconds)
        self._timers.pop(timer.id, None)
        await self._on_finished(timer)

    def running(self, satellite: str) -> list[Timer]:
        return sorted((t for t, _ in self._timers.values() if t.satellite == satellite), key=lambda t: t.ends_at)

    async def cancel(self, satellite: str, timer_id: str | None = None) -> list[Timer]:
        """Cancel one timer, or all of the satellite's; returns what was cancelled."""
        chosen = [t for t in self.running(satellite) if timer_id is None or t.id == timer_id]
        for timer in chosen:
            _, task = self._timers.pop(timer.id)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return chosen

    async def close(self) -> None:
        for satellite in {t.satellite for t, _ in self._timers.values()}:
            await self.cancel(satellite)
