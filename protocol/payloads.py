"""Pydantic models for every MQTT payload except commands (see :mod:`protocol.commands`).

Payloads are small UTF-8 JSON objects. Models are strict and closed: an unknown field,
a wrong type or a value out of range is a :class:`protocol.codec.PayloadError`, never a
half-parsed object. Times are Unix seconds (``ts``) and durations milliseconds (``*_ms``).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.topics import DEVICE_ID_PATTERN

Text = Annotated[str, Field(max_length=2000)]
ShortText = Annotated[str, Field(min_length=1, max_length=128)]
DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
Percent = Annotated[int, Field(ge=0, le=100)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Dbfs = Annotated[float, Field(ge=-200.0, le=0.0)]
Millis = Annotated[float, Field(ge=0.0)]


def now() -> float:
    return time.time()


class Payload(BaseModel):
    """Base of every payload: strict, closed, immutable, stamped with a send time."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ts: float = Field(default_factory=now, description="Unix time the message was made, seconds")


class Availability(StrEnum):
    """Plain-text payload of ``*/availability`` (Home Assistant's default strings)."""

    ONLINE = "online"
    OFFLINE = "offline"


class SatellitePhase(StrEnum):
    """What the satellite's audio path is doing right now."""

    IDLE = "idle"
    """Listening for the wake word only."""
    STREAMING = "streaming"
    """Sending microphone audio to the hub for a turn."""
    PLAYING = "playing"
    """Playing an answer (barge-in armed)."""
    PAUSED = "paused"
    """No hub has asked it to run (no ``run-satellite``)."""


class ConversationPhase(StrEnum):
    """The hub's conversation state machine, per satellite."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class SatelliteAnnounce(Payload):
    """Retained self-description; the hub learns satellites from it."""

    satellite: DeviceId
    name: ShortText = Field(description="Human name, e.g. 'Kitchen satellite'")
    area: ShortText = Field(description="Room the satellite is in")
    wyoming_uri: Annotated[str, Field(pattern=r"^tcp://[^\s/]+:\d{1,5}$")] = Field(
        description="Where the satellite's Wyoming server listens, e.g. tcp://10.0.0.5:10700"
    )
    software: ShortText = Field(description="Software name and version")
    wake_words: list[ShortText] = Field(max_length=16, description="Wake words it listens for now")
    wake_word_options: list[ShortText] = Field(default_factory=list, max_length=32,
                                               description="Wake words a `wake_word` command may choose")
    capabilities: list[ShortText] = Field(default_factory=list, max_length=32)


class SatelliteState(Payload):
    satellite: DeviceId
    phase: SatellitePhase
    muted: bool
    volume: Percent


class WakeDetection(Payload):
    """A wake word heard; the hub arbitrates between rooms on score and level."""

    satellite: DeviceId
    detection_id: ShortText
    wake_word: ShortText
    score: Score
    level_dbfs: Dbfs = Field(description="Signal level of the wake word audio, dBFS")
    during_playback: bool = False


class InterruptReason(StrEnum):
    WAKE_WORD = "wake_word"
    SPEECH = "speech"
    COMMAND = "command"
    HUB = "hub"
    SATELLITE_LOST = "satellite_lost"  # its connection closed mid-turn


class Interrupt(Payload):
    satellite: DeviceId
    reason: InterruptReason
    turn_id: ShortText | None = None


class SatelliteMetrics(Payload):
    satellite: DeviceId
    cpu_percent: Annotated[float, Field(ge=0.0)]
    rss_mb: Annotated[float, Field(ge=0.0)]
    temperature_c: float | None = None
    frames_dropped: Annotated[int, Field(ge=0)]
    wake_count: Annotated[int, Field(ge=0)]
    false_wake_count: Annotated[int, Field(ge=0)]
    uptime_s: Annotated[float, Field(ge=0.0)]


class ResultStatus(StrEnum):
    ACCEPTED = "accepted"
    DONE = "done"
    ERROR = "error"


class CommandResult(Payload):
    """Answer to every command, so nothing is lost silently."""

    id: ShortText = Field(description="Id of the command this answers")
    command: ShortText
    target: ShortText = Field(description="Satellite id, 'all' or 'hub'")
    handled_by: ShortText
    status: ResultStatus
    code: ShortText | None = Field(default=None, description="Stable error code when status is error")
    message: Text | None = None


class ConversationState(Payload):
    satellite: DeviceId
    phase: ConversationPhase
    turn_id: ShortText | None = None
    since: float = Field(description="Unix time this phase was entered")


class TurnTimings(BaseModel):
    """Per-stage milliseconds, all measured from the end of speech on the hub's clock."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    endpointing_ms: Millis | None = Field(default=None, description="Speech end to end-of-speech decision")
    transcript_ms: Millis | None = None
    first_token_ms: Millis | None = None
    first_sentence_ms: Millis | None = None
    first_audio_ms: Millis | None = None
    last_audio_ms: Millis | None = None


class TurnOutcome(StrEnum):
    DONE = "done"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"


class DeviceActionReport(BaseModel):
    """One device the turn commanded, and whether its new state was seen (hub/home/control.py)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    entity: ShortText = Field(description="Entity id, e.g. light.kitchen")
    service: ShortText = Field(description="Home Assistant service, e.g. turn_on")
    result: Literal["confirmed", "already", "no_response", "error"]
    ms: Millis = Field(description="Command to new state seen (or to the end of the wait)")


class TurnReport(Payload):
    satellite: DeviceId
    turn_id: ShortText
    transcript: Text
    response: Text
    handler: ShortText = Field(description="'llm' or the fast-path intent that answered")
    outcome: TurnOutcome
    timings: TurnTimings
    error_code: ShortText | None = None
    heard: Text | None = Field(default=None, description="What the hub acted on: the transcript without a leftover "
                                                         "wake phrase or fillers")
    stt_logprob: float | None = Field(default=None, le=0.0, description="The transcript's mean log-probability per "
                                                                         "token (0 is certain; below -1 a guess)")
    stt_no_speech: float | None = Field(default=None, ge=0.0, le=1.0,
                                        description="Whisper's probability that nobody spoke")
    actions: list[DeviceActionReport] = Field(default_factory=list, max_length=64,
                                              description="Devices the turn commanded")


class SatelliteDriver(StrEnum):
    """Who runs a satellite's conversations over Wyoming: exactly one client at a time."""

    HUB = "hub"
    HOME_ASSISTANT = "home_assistant"


class SatelliteLink(Payload):
    """The hub's view of one satellite's Wyoming link: who drives it and whether the hub is connected."""

    satellite: DeviceId
    driver: SatelliteDriver
    connected: bool = Field(description="The hub holds a working Wyoming connection to it")
    stock: bool = Field(default=False, description="It does not speak MQTT (e.g. wyoming-satellite)")
    problem: Text | None = Field(default=None, description="Why the hub cannot drive it, for people")


class SatelliteOwner(Payload):
    """The lease of one satellite: the one hub that drives it (retained; several hubs share the broker).

    Valid while its hub's own availability (``hubs/<hub>/availability``, that hub's last will) says
    online; a lease naming a hub that is offline may be claimed by another hub.
    """

    satellite: DeviceId
    hub: DeviceId = Field(description="The owning hub's id ([hub_id])")
    since: float = Field(description="Unix time this hub claimed it, seconds")


class ModelStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: Literal["stt", "llm", "tts", "wake", "vad"]
    name: ShortText
    status: Literal["loading", "loaded", "failed"]
    detail: Text | None = None


class HubState(Payload):
    status: Literal["starting", "ready", "degraded", "failed", "stopping"]
    models: list[ModelStatus] = Field(default_factory=list, max_length=16)
    problems: list[Text] = Field(default_factory=list, max_length=16,
                                 description="What is wrong right now, for people (e.g. a full disk)")
    satellites: list[DeviceId] = Field(default_factory=list, max_length=1024)
    software: ShortText


class HubMetrics(Payload):
    stt_queue_depth: Annotated[int, Field(ge=0)]
    active_turns: Annotated[int, Field(ge=0)]
    satellites_connected: Annotated[int, Field(ge=0)]
    turns_total: Annotated[int, Field(ge=0)]
    rss_mb: Annotated[float, Field(ge=0.0)]
    cpu_percent: Annotated[float, Field(ge=0.0)]
    audio_dropped_total: Annotated[int, Field(ge=0)] = 0


class ArbitrationCandidate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    satellite: DeviceId
    score: Score
    level_dbfs: Dbfs
    preference: float = Field(description="Learned room preference added to the rank")
    rank: float


class ArbitrationDecision(Payload):
    window_ms: Millis
    winner: DeviceId
    candidates: list[ArbitrationCandidate] = Field(min_length=1, max_length=64)


class LearningAction(StrEnum):
    UPDATE = "update"
    REJECTED = "rejected"
    ROLLBACK = "rollback"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    RESET = "reset"
    ENABLE = "enable"
    DISABLE = "disable"
    STYLE = "style"


class LearningDecision(Payload):
    """What the learning layer did, why, and from what evidence."""

    room: ShortText | None = Field(default=None, description="None: every room")
    parameter: ShortText | None = Field(default=None, description="None: every parameter")
    action: LearningAction
    old_value: float | str | None = None
    new_value: float | str | None = None
    reason: Text
    evidence: dict[ShortText, float | int | str] = Field(default_factory=dict, max_length=32)
