"""An announcement's outcome: done only when every satellite said it played it all.

The turns start at once (the caller is not held up); :meth:`Announcement.outcome` waits for
their ends, watching the event bus from before the first turn started so nothing is missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hub.conversation.bus import EventBus
from hub.conversation.event_data import Played, TurnEnded
from hub.conversation.events import ConversationEvent
from protocol.payloads import TurnOutcome


class Announcement:
    def __init__(self, bus: EventBus) -> None:
        self.turns: dict[str, str] = {}
        """Turn id -> satellite id."""
        self._ended: dict[str, TurnEnded] = {}
        self._played: set[str] = set()
        self._all_ended = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._watch)

    def add(self, turn_id: str, satellite: str) -> None:
        self.turns[turn_id] = satellite

    def _watch(self, event: ConversationEvent) -> None:
        if event.turn_id not in self.turns:
            return
        if isinstance(event.data, Played):
            self._played.add(event.turn_id)
        elif isinstance(event.data, TurnEnded):
            self._ended[event.turn_id] = event.data
            if len(self._ended) == len(self.turns):
                self._all_ended.set()
                self.close()  # also when nobody awaits the outcome (tests, benches)

    async def outcome(self) -> list[str]:
        """What went wrong, per satellite (empty: each one played it all). A turn always ends: its
        wait for ``played`` is bounded by the audio's length plus a grace."""
        try:
            if self.turns:
                await self._all_ended.wait()
        finally:
            self.close()
        problems = []
        for turn_id, satellite in self.turns.items():
            end = self._ended[turn_id]
            if end.outcome is not TurnOutcome.DONE:
                code = end.error_code
                problems.append(f"{satellite}: {end.outcome.value}" + (f" ({code})" if code else ""))
            elif turn_id not in self._played:
                problems.append(f"{satellite}: the satellite did not confirm it played the announcement")
        return problems

    def close(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
