"""The conversation event stream: one clock, one typed payload per kind.

Every stage of a turn emits a :class:`ConversationEvent`; the state machine, the MQTT
bridge, the metrics, the session recorder and the learning layer all consume the same
stream (``hub.conversation.bus``), so what is published, measured, recorded and learned
from can never disagree. An event's kind is its payload's class (``hub.conversation.event_data``),
so a consumer reads typed attributes (``match event.data: case TurnEnded(outcome=...)``),
never a key with a default.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hub.conversation.event_data import (
    ArbitrationLost,
    AskedToRepeat,
    AudioFinished,
    AudioStarted,
    DeviceAction,
    Error,
    EventKind,
    FirstToken,
    IntentMatched,
    Interrupted,
    LlmStarted,
    Played,
    SatelliteConnected,
    SatelliteDisconnected,
    Sentence,
    SentenceSpoken,
    SpeechEnded,
    SpeechStarted,
    StateChanged,
    Transcript,
    TurnEnded,
    TurnStarted,
    Wake,
)

__all__ = ["PAYLOADS", "ConversationEvent", "EventData", "EventKind", "monotonic"]

EventData = (SatelliteConnected | SatelliteDisconnected | Wake | ArbitrationLost | TurnStarted | SpeechStarted
             | SpeechEnded | Transcript | AskedToRepeat | IntentMatched | DeviceAction | LlmStarted | FirstToken
             | Sentence | AudioStarted | SentenceSpoken | AudioFinished | Played | Interrupted | TurnEnded | Error
             | StateChanged)

PAYLOADS: dict[EventKind, type[EventData]] = {
    EventKind.SATELLITE_CONNECTED: SatelliteConnected,
    EventKind.SATELLITE_DISCONNECTED: SatelliteDisconnected,
    EventKind.WAKE: Wake,
    EventKind.ARBITRATION_LOST: ArbitrationLost,
    EventKind.TURN_STARTED: TurnStarted,
    EventKind.SPEECH_STARTED: SpeechStarted,
    EventKind.SPEECH_ENDED: SpeechEnded,
    EventKind.TRANSCRIPT: Transcript,
    EventKind.ASKED_TO_REPEAT: AskedToRepeat,
    EventKind.INTENT: IntentMatched,
    EventKind.DEVICE_ACTION: DeviceAction,
    EventKind.LLM_STARTED: LlmStarted,
    EventKind.FIRST_TOKEN: FirstToken,
    EventKind.SENTENCE: Sentence,
    EventKind.AUDIO_STARTED: AudioStarted,
    EventKind.SENTENCE_SPOKEN: SentenceSpoken,
    EventKind.AUDIO_FINISHED: AudioFinished,
    EventKind.PLAYED: Played,
    EventKind.INTERRUPTED: Interrupted,
    EventKind.TURN_ENDED: TurnEnded,
    EventKind.ERROR: Error,
    EventKind.STATE_CHANGED: StateChanged,
}
"""Each kind's payload class: every kind has exactly one, and no two kinds share one."""
_KINDS: dict[type, EventKind] = {cls: kind for kind, cls in PAYLOADS.items()}
assert set(PAYLOADS) == set(EventKind) and len(_KINDS) == len(PAYLOADS)


def monotonic() -> float:
    """The one clock every event uses (seconds)."""
    return time.monotonic()


@dataclass(frozen=True)
class ConversationEvent:
    satellite: str
    data: EventData
    """What happened; its class is the event's kind."""
    t: float = field(default_factory=monotonic)
    """Hub monotonic clock, seconds: durations are differences of ``t``."""
    wall: float = field(default_factory=time.time)
    """Unix time, for people and for MQTT payloads."""
    turn_id: str | None = None

    def __post_init__(self) -> None:
        if type(self.data) not in _KINDS:
            raise TypeError(f"not an event payload: {self.data!r}")

    @property
    def kind(self) -> EventKind:
        return _KINDS[type(self.data)]
