"""What each conversation event says: one frozen dataclass per :class:`EventKind`, and the value sets they use.

The envelope (satellite, clock, turn) is :class:`hub.conversation.events.ConversationEvent`, whose kind is its
payload's class. Field names are what recordings store (``hub.storage.event_format``): renaming one is a new
recording format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.home.model import HomeSource
from hub.pipeline.transcript import Doubt
from protocol.payloads import ConversationPhase, InterruptReason, TurnOutcome
from protocol.wyoming_events import STOCK_WAKE_LEVEL_DBFS, STOCK_WAKE_SCORE


class EventKind(StrEnum):
    """The wire names of the kinds (recordings, MQTT); ``hub.conversation.events.PAYLOADS`` gives each its class."""

    SATELLITE_CONNECTED = "satellite-connected"
    SATELLITE_DISCONNECTED = "satellite-disconnected"
    WAKE = "wake"
    ARBITRATION_LOST = "arbitration-lost"
    TURN_STARTED = "turn-started"
    SPEECH_STARTED = "speech-started"
    SPEECH_ENDED = "speech-ended"
    TRANSCRIPT = "transcript"
    ASKED_TO_REPEAT = "asked-to-repeat"
    INTENT = "intent"
    DEVICE_ACTION = "device-action"
    LLM_STARTED = "llm-started"
    FIRST_TOKEN = "first-token"
    SENTENCE = "sentence"
    AUDIO_STARTED = "audio-started"
    SENTENCE_SPOKEN = "sentence-spoken"
    AUDIO_FINISHED = "audio-finished"
    PLAYED = "played"
    INTERRUPTED = "interrupted"
    TURN_ENDED = "turn-ended"
    ERROR = "error"
    STATE_CHANGED = "state-changed"


class EndOfSpeech(StrEnum):
    """What decided that the person had finished speaking."""

    SATELLITE = "satellite"
    """The satellite sent ``audio-stop`` (its own end of speech)."""
    SILENCE = "silence"
    """The hub's endpointer heard the end-of-speech window of silence."""
    NO_SPEECH = "no_speech"
    """The hub's endpointer heard nobody start speaking."""
    MAX_LENGTH = "max_length"
    """The utterance reached its longest allowed length."""
    COMMAND = "command"
    """A complete command was heard and the shorter command window passed (early commit)."""
    TIMEOUT = "timeout"
    """The satellite stopped sending audio."""
    TEXT = "text"
    """A typed request: there was nothing to listen to."""
    HUB = "hub"
    """The hub's endpointer, for a reason it did not name."""


class DeviceResult(StrEnum):
    CONFIRMED = "confirmed"
    """The device's new state was seen."""
    ALREADY = "already"
    """It was already in the asked state (Home Assistant sends no change then)."""
    NO_RESPONSE = "no_response"
    """No new state within the wait."""
    ERROR = "error"


class Speculation(StrEnum):
    """Whether an LLM answer started during the silence window was used."""

    HIT = "hit"
    MISS = "miss"


@dataclass(frozen=True, kw_only=True)
class SatelliteConnected:
    uri: str
    name: str
    area: str


@dataclass(frozen=True, kw_only=True)
class SatelliteDisconnected:
    uri: str


@dataclass(frozen=True, kw_only=True)
class Wake:
    """A wake word was heard; also what a wake-opened turn and a lost arbitration carry."""

    wake_word: str
    score: float = STOCK_WAKE_SCORE
    """The wake model's score, 0-1."""
    level_dbfs: float = STOCK_WAKE_LEVEL_DBFS
    """How loud the wake word was at this satellite, dBFS (arbitration prefers the louder room)."""
    near_miss: float | None = None
    """The score of a near miss just before (the person had to say the wake word twice), or None."""
    preroll_ms: float | None = None
    """Audio from before the wake in the stream, ms (the hub then cuts the wake phrase), or None."""


@dataclass(frozen=True, kw_only=True)
class ArbitrationLost:
    """Another room's satellite heard the same wake better; this one stands down."""

    wake: Wake | None = None


@dataclass(frozen=True, kw_only=True)
class TurnStarted:
    listen: bool
    """False for announcements and timer alerts: nothing to listen to."""
    room: str
    wake: Wake | None = None
    """The wake that opened the turn; None for typed commands and announcements."""


@dataclass(frozen=True, kw_only=True)
class SpeechStarted:
    """The hub heard the person start speaking."""


@dataclass(frozen=True, kw_only=True)
class SpeechEnded:
    by: EndOfSpeech
    speech_end_t: float
    """When speech really stopped, on the event clock (seconds): turn timings start here."""
    speech_ms: float | None = None
    """Speech heard, ms from the start of the stream to its end (None for typed requests)."""
    audio_ms: float | None = None
    """Audio received, ms."""
    pause_ms: float | None = None
    """Longest pause inside the utterance that did not end it, ms."""
    silence_ms: float | None = None
    """The end-of-speech window in force, ms."""
    command_silence_ms: float | None = None
    """The shorter window after a complete command, ms (0: off)."""
    command_guessed: bool = False
    """A speculative transcript was a complete command."""
    command_continued_ms: float | None = None
    """Longest pause after a complete command from which the person went on, ms."""


@dataclass(frozen=True, kw_only=True)
class Transcript:
    text: str
    """As recognised."""
    audio_ms: float
    stt_ms: float
    """Recognition time after the end of speech, ms."""
    cleaned: str = ""
    """Wake leftover and fillers removed (``hub.pipeline.transcript.clean``)."""
    doubt: Doubt | None = None
    """Why the hub will not act on it, or None."""
    early: bool = False
    """The speculative transcript made during the silence window was the final one."""
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None


@dataclass(frozen=True, kw_only=True)
class AskedToRepeat:
    """The hub did not act on the transcript and asked the person to say it again."""

    reason: Doubt
    said: str


@dataclass(frozen=True, kw_only=True)
class IntentMatched:
    """A fast-path intent (or a quick answer, or Home Assistant's Assist) answers."""

    name: str
    slots: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DeviceAction:
    entity: str
    service: str
    data: Mapping[str, Any]
    """The service call's data (brightness, temperature ...)."""
    result: DeviceResult
    ms: float
    """Until its new state was seen or the wait ended."""
    code: str | None
    """The error code when ``result`` is error."""
    source: HomeSource


@dataclass(frozen=True, kw_only=True)
class LlmStarted:
    prompt: str
    style: str
    speculative: Speculation | None = None
    """None: no answer was started early."""
    speculative_ahead_ms: float | None = None
    """How long before the end of listening the adopted answer started, ms."""


@dataclass(frozen=True, kw_only=True)
class FirstToken:
    """The language model wrote its first token."""


@dataclass(frozen=True, kw_only=True)
class Sentence:
    """A finished sentence went to TTS."""

    text: str
    index: int


@dataclass(frozen=True, kw_only=True)
class AudioStarted:
    """First TTS audio chunk sent to the satellite."""



@dataclass(frozen=True, kw_only=True)
class SentenceSpoken:
    """All audio of one sentence was sent."""

    text: str
    index: int
    audio_end_s: float
    """Where its audio ends, seconds from the answer's first audio."""


@dataclass(frozen=True, kw_only=True)
class AudioFinished:
    response: str
    """The full text actually sent."""
    audio_s: float


@dataclass(frozen=True, kw_only=True)
class Played:
    """The satellite reported playback finished."""



@dataclass(frozen=True, kw_only=True)
class Interrupted:
    reason: InterruptReason
    spoken: str
    """The text actually spoken so far."""


@dataclass(frozen=True, kw_only=True)
class TurnEnded:
    outcome: TurnOutcome
    transcript: str = ""
    response: str = ""
    handler: str = ""
    """What answered: an intent name, quick_*, assist, llm, announce, ask_again, no_speech, empty."""
    error_code: str | None = None
    audio_dropped: int = 0
    """Microphone chunks dropped because the turn's queue was full."""


@dataclass(frozen=True, kw_only=True)
class Error:
    code: str
    message: str


@dataclass(frozen=True, kw_only=True)
class StateChanged:
    """Emitted by the state machine."""

    before: ConversationPhase
    after: ConversationPhase
    cause: EventKind
