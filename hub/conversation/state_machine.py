"""The per-satellite conversation state machine, as a reducer over the event stream.

It does not drive anything: it *derives* the phase from the events the turn emits, so a
recorded session replays through it to the same transitions (``python -m hub replay``).
Transitions it cannot make are invariant violations: they are reported (logged, counted,
raised in tests through ``strict``) and the phase is left unchanged.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

from hub.conversation.bus import EventBus
from hub.conversation.event_data import StateChanged, TurnStarted
from hub.conversation.events import ConversationEvent, EventKind
from protocol.payloads import ConversationPhase

_LOGGER = logging.getLogger(__name__)

P = ConversationPhase
RECENT_KEPT = 1000

# Which phases each event may move from, and where to. An event not listed for the
# current phase is a violation; events not in the table never change the phase.
TRANSITIONS: dict[EventKind, tuple[frozenset[ConversationPhase], ConversationPhase]] = {
    EventKind.TURN_STARTED: (frozenset({P.IDLE, P.INTERRUPTED, P.ERROR}), P.LISTENING),
    EventKind.SPEECH_ENDED: (frozenset({P.LISTENING}), P.THINKING),
    EventKind.AUDIO_STARTED: (frozenset({P.THINKING}), P.SPEAKING),
    EventKind.INTERRUPTED: (frozenset({P.LISTENING, P.THINKING, P.SPEAKING}), P.INTERRUPTED),
    EventKind.ERROR: (frozenset({P.LISTENING, P.THINKING, P.SPEAKING, P.INTERRUPTED}), P.ERROR),
    EventKind.TURN_ENDED: (frozenset({P.LISTENING, P.THINKING, P.SPEAKING, P.INTERRUPTED, P.ERROR}), P.IDLE),
}


class InvariantViolation(RuntimeError):
    pass


@dataclass(frozen=True)
class Transition:
    satellite: str
    before: ConversationPhase
    after: ConversationPhase
    cause: EventKind
    turn_id: str | None
    t: float
    wall: float


class ConversationStateMachine:
    """One satellite's phase plus the turn it belongs to (at most one turn at a time)."""

    def __init__(self, satellite: str, *, strict: bool = False) -> None:
        self.satellite = satellite
        self.phase = P.IDLE
        self.turn_id: str | None = None
        self.since_wall: float | None = None
        self.violations: collections.deque[str] = collections.deque(maxlen=RECENT_KEPT)
        self._strict = strict

    def apply(self, event: ConversationEvent) -> Transition | None:
        rule = TRANSITIONS.get(event.kind)
        if rule is None or event.satellite != self.satellite:
            return None
        allowed_from, target = rule
        if isinstance(event.data, TurnStarted) and not event.data.listen:
            target = P.THINKING  # announcements and timer alerts have nothing to listen to
        if self.phase not in allowed_from:
            self._violate(f"{event.kind} in phase {self.phase}", event)
            return None
        if event.kind is not EventKind.TURN_STARTED and event.turn_id != self.turn_id:
            self._violate(f"{event.kind} for turn {event.turn_id} while turn {self.turn_id} is open", event)
            return None
        before = self.phase
        self.phase = target
        self.turn_id = event.turn_id if target is not P.IDLE else None
        self.since_wall = event.wall
        return Transition(self.satellite, before, target, event.kind, event.turn_id, event.t, event.wall)

    def _violate(self, what: str, event: ConversationEvent) -> None:
        message = f"{self.satellite}: invariant violated: {what}"
        self.violations.append(message)
        _LOGGER.warning(message)
        if self._strict:
            raise InvariantViolation(message)


class StateTracker:
    """Runs one state machine per satellite on the bus and re-emits each transition as an event."""

    def __init__(self, bus: EventBus, *, strict: bool = False) -> None:
        self._bus = bus
        self._strict = strict
        self.machines: dict[str, ConversationStateMachine] = {}
        self.transitions: collections.deque[Transition] = collections.deque(maxlen=RECENT_KEPT)
        """The most recent transitions (the session recorder keeps them all)."""
        bus.subscribe(self._on_event)

    def machine(self, satellite: str) -> ConversationStateMachine:
        if satellite not in self.machines:
            self.machines[satellite] = ConversationStateMachine(satellite, strict=self._strict)
        return self.machines[satellite]

    def phase(self, satellite: str) -> ConversationPhase:
        return self.machine(satellite).phase

    def _on_event(self, event: ConversationEvent) -> None:
        transition = self.machine(event.satellite).apply(event)
        if transition is None:
            return
        self.transitions.append(transition)
        self._bus.emit(ConversationEvent(
            satellite=event.satellite, data=StateChanged(before=transition.before, after=transition.after,
                                                         cause=event.kind),
            t=event.t, wall=event.wall, turn_id=event.turn_id,
        ))
