"""Timers per satellite that outlast the hub: started by voice or MQTT, kept in SQLite, rung on the satellite.

Each running timer is one task owned by the registry; cancelling or pausing one cancels and awaits
its task. Every change is written to the ``timers`` table first, so a hub restarted (or killed) with
timers running picks them up again: one that ended while the hub was down rings at once. A timer
that ends while its satellite is away stays ``finished`` in the table until it has been rung.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from hub.storage.store import Store, StoreError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timer:
    id: str
    satellite: str
    name: str | None
    total_seconds: int
    ends_at: float
    """Unix time (wall clock, so it means the same after a restart)."""
    paused_remaining: float | None = None
    """Seconds left when paused; None while running."""

    def remaining(self, now: float | None = None) -> float:
        if self.paused_remaining is not None:
            return self.paused_remaining
        return max(0.0, self.ends_at - (time.time() if now is None else now))

    @property
    def paused(self) -> bool:
        return self.paused_remaining is not None


FinishedCallback = Callable[[Timer], Awaitable[bool]]
"""Rings a finished timer; returns False if its satellite could not be told (it is rung again later)."""


class TimerRegistry:
    def __init__(self, on_finished: Callable[[Timer], Awaitable[bool | None]], store: Store | None = None) -> None:
        self._on_finished = on_finished
        self._store = store
        self._timers: dict[str, Timer] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._unrung: dict[str, Timer] = {}

    # -- durable state -----------------------------------------------------------------------
    def restore(self) -> int:
        """Load the timers saved by an earlier run and start them again (call inside the event loop)."""
        if self._store is None:
            return 0
        rows = self._store.query(
            "SELECT id, satellite, name, total_seconds, ends_at, paused_remaining, finished FROM timers")
        for row in rows:
            timer = Timer(row[0], row[1], row[2], int(row[3]), float(row[4]), row[5])
            if row[6]:
                self._unrung[timer.id] = timer
                continue
            self._timers[timer.id] = timer
            if not timer.paused:
                self._spawn(timer)
        if rows:
            _LOGGER.info("restored %d timer(s) from the last run", len(rows))
        return len(rows)

    def _save(self, timer: Timer, *, finished: bool = False) -> None:
        if self._store is None:
            return
        try:
            with self._store.transaction() as db:
                db.execute("INSERT OR REPLACE INTO timers(id, satellite, name, total_seconds, ends_at, paused_remaining,"
                           " finished) VALUES(?, ?, ?, ?, ?, ?, ?)",
                           (timer.id, timer.satellite, timer.name, timer.total_seconds, timer.ends_at,
                            timer.paused_remaining, int(finished)))
        except StoreError as err:  # the timer still runs; it only would not survive a restart
            _LOGGER.error("timer %s not saved: %s", timer.id, err)

    def _forget(self, timer_id: str) -> None:
        if self._store is None:
            return
        try:
            with self._store.transaction() as db:
                db.execute("DELETE FROM timers WHERE id = ?", (timer_id,))
        except StoreError as err:
            _LOGGER.error("timer %s not removed from the database: %s", timer_id, err)

    # -- timers ------------------------------------------------------------------------------
    def start(self, satellite: str, seconds: int, name: str | None = None) -> Timer:
        timer = Timer(f"{satellite}-{uuid.uuid4().hex[:8]}", satellite, name, seconds, time.time() + seconds)
        self._timers[timer.id] = timer
        self._save(timer)
        self._spawn(timer)
        return timer

    def _spawn(self, timer: Timer) -> None:
        self._tasks[timer.id] = asyncio.create_task(self._run(timer), name=f"timer-{timer.id}")

    async def _run(self, timer: Timer) -> None:
        await asyncio.sleep(timer.remaining())
        self._tasks.pop(timer.id, None)
        self._timers.pop(timer.id, None)
        self._save(timer, finished=True)
        await self._ring(timer)

    async def _ring(self, timer: Timer) -> None:
        try:
            delivered = await self._on_finished(timer)
        except Exception:
            _LOGGER.exception("ringing timer %s failed", timer.id)
            delivered = False
        if delivered is False:
            self._unrung[timer.id] = timer
            _LOGGER.info("timer %s finished while %s is away; it rings when it is back", timer.id, timer.satellite)
        else:
            self._unrung.pop(timer.id, None)
            self._forget(timer.id)

    def has_missed(self, satellite: str) -> bool:
        return any(t.satellite == satellite for t in self._unrung.values())

    async def ring_missed(self, satellite: str) -> int:
        """Ring the timers that finished while ``satellite`` was away (or the hub was down)."""
        missed = [t for t in self._unrung.values() if t.satellite == satellite]
        for timer in missed:
            self._unrung.pop(timer.id, None)
            await self._ring(timer)
        return len(missed)

    def running(self, satellite: str) -> list[Timer]:
        """The satellite's timers (paused ones too), soonest first."""
        return sorted((t for t in self._timers.values() if t.satellite == satellite), key=lambda t: t.remaining())

    def find(self, satellite: str, name: str | None = None, seconds: int | None = None) -> list[Timer]:
        """Timers by name ("pasta") or by their length as started ("the 5 minute timer"); all if neither."""
        chosen = self.running(satellite)
        if name:
            chosen = [t for t in chosen if t.name and t.name.lower() == name.lower()]
        if seconds:
            chosen = [t for t in chosen if t.total_seconds == seconds]
        return chosen

    async def _stop_task(self, timer_id: str) -> None:
        task = self._tasks.pop(timer_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def cancel(self, satellite: str, timer_id: str | None = None) -> list[Timer]:
        """Cancel one timer, or all of the satellite's; returns what was cancelled."""
        chosen = [t for t in self.running(satellite) if timer_id is None or t.id == timer_id]
        for timer in chosen:
            await self._stop_task(timer.id)
            self._timers.pop(timer.id, None)
            self._forget(timer.id)
        return chosen

    async def pause(self, timer: Timer) -> Timer:
        if timer.paused or timer.id not in self._timers:
            return timer
        await self._stop_task(timer.id)
        paused = replace(timer, paused_remaining=timer.remaining())
        self._timers[timer.id] = paused
        self._save(paused)
        return paused

    def resume(self, timer: Timer) -> Timer:
        if not timer.paused or timer.id not in self._timers:
            return timer
        running = replace(timer, ends_at=time.time() + (timer.paused_remaining or 0.0), paused_remaining=None)
        self._timers[timer.id] = running
        self._save(running)
        self._spawn(running)
        return running

    async def close(self) -> None:
        """Stop the tasks; the timers stay in the database for the next run."""
        for timer_id in list(self._tasks):
            await self._stop_task(timer_id)
