"""The conversation event stream: one clock, one bus.

Every stage of a turn emits a :class:`ConversationEvent`; the state machine, the MQTT
bridge, the metrics, the session recorder and the learning layer all consume the same
stream, so what is published, measured, recorded and learned from can never disagree.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_LOGGER = logging.getLogger(__name__)


class EventKind(StrEnum):
    SATELLITE_CONNECTED = "satellite-connected"
    SATELLITE_DISCONNECTED = "satellite-disconnected"
    WAKE = "wake"
    """A wake word was heard (data: wake_word, score, level_dbfs)."""
    ARBITRATION_LOST = "arbitration-lost"
    """Another room's satellite heard the same wake better; this one stands down."""
    TURN_STARTED = "turn-started"
    """A turn was opened (data: wake_word or 'command' / 'announce')."""
    SPEECH_STARTED = "speech-started"
    SPEECH_ENDED = "speech-ended"
    """End of speech decided (data: speech_end_t = when speech really stopped, by: satellite|hub|timeout)."""
    TRANSCRIPT = "transcript"
    """data: text (as recognised), audio_ms, stt_ms, and for speech: cleaned (wake leftover, fillers removed),
    avg_logprob, no_speech_prob, compression_ratio, doubt (why the hub will not act on it, or None)."""
    ASKED_TO_REPEAT = "asked-to-repeat"
    """The hub did not act on the transcript and asked the person to say it again (data: reason, said)."""
    INTENT = "intent"
    """A fast-path intent answered (data: name, slots)."""
    DEVICE_ACTION = "device-action"
    """A device was commanded (data: entity, service, data, result = confirmed|already|no_response|error,
    ms = until its new state was seen or the wait ended, code, source = home_assistant|mqtt)."""
    LLM_STARTED = "llm-started"
    """data: prompt, style."""
    FIRST_TOKEN = "first-token"
    SENTENCE = "sentence"
    """A finished sentence went to TTS (data: text, index)."""
    AUDIO_STARTED = "audio-started"
    """First TTS audio chunk sent to the satellite."""
    SENTENCE_SPOKEN = "sentence-spoken"
    """All audio of one sentence was sent (data: text, index)."""
    AUDIO_FINISHED = "audio-finished"
    """Last TTS audio chunk sent (data: response = full text actually sent)."""
    PLAYED = "played"
    """The satellite reported playback finished."""
    INTERRUPTED = "interrupted"
    """data: reason (wake_word|speech|command|hub), spoken = text actually spoken so far."""
    TURN_ENDED = "turn-ended"
    """data: outcome (TurnOutcome value), transcript, response, handler."""
    ERROR = "error"
    """data: code, message."""
    STATE_CHANGED = "state-changed"
    """Emitted by the state machine (data: from, to)."""


def monotonic() -> float:
    """The one clock every event uses (seconds)."""
    return time.monotonic()


@dataclass(frozen=True)
class ConversationEvent:
    satellite: str
    kind: EventKind
    t: float = field(default_factory=monotonic)
    """Hub monotonic clock, seconds: durations are differences of ``t``."""
    wall: float = field(default_factory=time.time)
    """Unix time, for people and for MQTT payloads."""
    turn_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable details, by kind (see :class:`EventKind`)."""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "satellite": self.satellite,
            "kind": self.kind.value,
            "t": self.t,
            "wall": self.wall,
            "turn_id": self.turn_id,
            "data": dict(self.data),
        }

    @staticmethod
    def from_json_dict(raw: Mapping[str, Any]) -> ConversationEvent:
        return ConversationEvent(
            satellite=str(raw["satellite"]),
            kind=EventKind(raw["kind"]),
            t=float(raw["t"]),
            wall=float(raw["wall"]),
            turn_id=raw.get("turn_id"),
            data=dict(raw.get("data") or {}),
        )


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
