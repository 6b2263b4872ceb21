"""What the hub says unasked: announcements, and a timer's end (its chime, then which timer it was).

:class:`Announcer` owns the tasks that ring timers which ended while their satellite was away; they
start when it connects again, and are cancelled and awaited on close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from hub.conversation.announcement import Announcement
from hub.conversation.bus import EventBus
from hub.conversation.event_data import SatelliteConnected
from hub.conversation.events import ConversationEvent
from hub.conversation.session import SatelliteSession
from hub.home.skills import timer_label
from hub.home.timers import Timer, TimerRegistry
from protocol.payloads import InterruptReason


class Announcer:
    def __init__(self, bus: EventBus, sessions: Mapping[str, SatelliteSession]) -> None:
        self._bus = bus
        self._sessions = sessions
        self.timers: TimerRegistry | None = None
        """Set once built (the registry calls :meth:`timer_finished`, so it is made after this)."""
        self._ringing: set[asyncio.Task[int]] = set()

    async def announce(self, satellite_ids: list[str], text: str) -> Announcement:
        """Start speaking ``text`` on each satellite; ``await (...).outcome()`` says whether each played it."""
        announcement = Announcement(self._bus)
        for satellite_id in satellite_ids:
            session = self._sessions[satellite_id]
            turn = session.new_turn(announce=text)
            announcement.add(turn.turn_id, satellite_id)
            await session.start(turn, barge_reason=InterruptReason.HUB)
        return announcement

    async def timer_finished(self, timer: Timer) -> bool:
        """Ring on the timer's satellite (its chime) and say which timer it was; False if it is away."""
        session = self._sessions.get(timer.satellite)
        if session is None or not session.connected:
            return False
        await session.timer_finished(timer)
        await session.start(session.new_turn(announce=f"{timer_label(timer).capitalize()} is done."),
                            barge_reason=InterruptReason.HUB)
        return True

    def on_event(self, event: ConversationEvent) -> None:
        """Bus subscriber: a satellite back ring the timers that ended while it was away."""
        timers = self.timers
        if isinstance(event.data, SatelliteConnected) and timers is not None and timers.has_missed(event.satellite):
            task = asyncio.create_task(timers.ring_missed(event.satellite), name=f"missed-timers-{event.satellite}")
            self._ringing.add(task)
            task.add_done_callback(self._ringing.discard)

    async def close(self) -> None:
        for task in list(self._ringing):
            task.cancel()
        await asyncio.gather(*self._ringing, return_exceptions=True)
