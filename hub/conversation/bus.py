"""The one bus every :class:`~hub.conversation.events.ConversationEvent` goes through, and a recorder of it."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from hub.conversation.events import ConversationEvent, EventKind

_LOGGER = logging.getLogger(__name__)

Listener = Callable[[ConversationEvent], None]


class EventBus:
    """Synchronous fan-out: listeners run in order, inside ``emit``.

    Listeners must be quick and must not block (hand work to a queue or task). A listener
    that raises is logged and the others still run; the emitter never sees the error.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._pending: collections.deque[ConversationEvent] = collections.deque()
        self._emitting = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: ConversationEvent) -> None:
        # An event emitted by a listener (the state machine's transitions) is delivered after the
        # event that caused it has reached every listener, so all listeners see one order.
        self._pending.append(event)
        if self._emitting:
            return
        self._emitting = True
        try:
            while self._pending:
                current = self._pending.popleft()
                for listener in list(self._listeners):
                    try:
                        listener(current)
                    except Exception:
                        _LOGGER.exception("event listener %r failed on %s", listener, current.kind)
        finally:
            self._emitting = False


class EventRecorder:
    """Collects events in memory; tests and the replay tool assert on the sequence."""

    def __init__(self, bus: EventBus | None = None) -> None:
        self.events: list[ConversationEvent] = []
        self._changed = asyncio.Event()
        if bus is not None:
            bus.subscribe(self)

    def __call__(self, event: ConversationEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def kinds(self, satellite: str | None = None) -> list[EventKind]:
        return [e.kind for e in self.events if satellite is None or e.satellite == satellite]

    async def wait_for(self, predicate: Callable[[ConversationEvent], bool], timeout: float) -> ConversationEvent:
        """Wait until an event matching ``predicate`` has been recorded (from the start)."""

        async def _wait() -> ConversationEvent:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(_wait(), timeout)
