"""The Wyoming events this system uses, and the two it adds.

The hub is a Wyoming *client* of each satellite, exactly as Home Assistant is, so a
stock ``wyoming-satellite`` works with our hub and our satellite works with Home
Assistant. A turn, on one connection::

    hub -> sat   describe                      sat -> hub   info
    hub -> sat   run-satellite                 (sat is now armed; pause-satellite disarms it)
    hub -> sat   ping                          sat -> hub   pong
                                               sat -> hub   run-pipeline (after the wake word)
                                               sat -> hub   detection, audio-start, audio-chunk ...
    hub -> sat   voice-started
                                               sat -> hub   audio-stop  (our satellite ends speech itself;
                                                            for a stock one the hub's VAD decides)
    hub -> sat   voice-stopped, transcript
    hub -> sat   synthesize (the answer text), audio-start, audio-chunk ..., audio-stop
                                               sat -> hub   played
    hub -> sat   timer-started / timer-updated / timer-cancelled / timer-finished

Extensions (a stock peer ignores unknown event types, so they are safe to send):

- ``interrupt`` (both directions): satellite -> hub "the user barged in, drop this answer";
  hub -> satellite "stop playback now and discard queued audio". Data: ``reason``, ``turn_id``.
- ``turn-started`` (hub -> satellite): the id of the turn the hub opened, so the satellite's
  MQTT interrupt and metrics can name it.
- ``detection`` data from our satellites carries, beyond Wyoming's ``name``: ``score``, ``level_dbfs``
  (room arbitration), ``near_miss`` (a failed try just before) and ``preroll_ms``: how much of the audio
  stream that follows was captured before the wake model fired (it holds the wake phrase, for the hub
  to cut from the transcript; absent from a stock satellite, which streams from after the wake).
  :class:`DetectionEvent` writes it and reads it, a stock satellite's too (with the defaults it documents).
- ``run-satellite`` data from our hub carries ``strips_wake_phrase: true``: only a driver that says so
  gets that pre-roll. Home Assistant (or any stock driver) would hand "hey Jarvis, what time is it" to its
  own agent, which does not understand it, so our satellite streams to it from after the wake, as a stock
  satellite does.
- Control (:data:`CONTROL_EVENTS`): ``set-volume``, ``set-mute`` and ``tune`` (hub -> satellite) change the
  satellite's volume, microphone and learned tuning on the link turns already use, so MQTT is not needed for
  them; ``listen`` (hub -> satellite) opens the microphone for a follow-up once the answer has played;
  ``satellite-state`` (satellite -> hub: ``volume``, ``muted``) after ``run-satellite`` and on every change is
  what the hub's volume starts from, and tells it the satellite understands the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, Eventable
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from protocol.audio import PcmFormat, check_audio
from protocol.payloads import InterruptReason

_INTERRUPT_TYPE = "interrupt"
_TURN_STARTED_TYPE = "turn-started"


@dataclass(frozen=True)
class InterruptEvent(Eventable):
    """Barge-in or stop: the current answer must end now."""

    reason: InterruptReason
    turn_id: str | None = None

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _INTERRUPT_TYPE

    def event(self) -> Event:
        data: dict[str, Any] = {"reason": self.reason.value}
        if self.turn_id is not None:
            data["turn_id"] = self.turn_id
        return Event(type=_INTERRUPT_TYPE, data=data)

    @staticmethod
    def from_event(event: Event) -> InterruptEvent:
        reason = InterruptReason(str(event.data.get("reason", InterruptReason.HUB)))
        turn_id = event.data.get("turn_id")
        return InterruptEvent(reason=reason, turn_id=str(turn_id) if turn_id is not None else None)


@dataclass(frozen=True)
class TurnStarted(Eventable):
    """The hub opened a turn for the satellite's ``run-pipeline``."""

    turn_id: str

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _TURN_STARTED_TYPE

    def event(self) -> Event:
        return Event(type=_TURN_STARTED_TYPE, data={"turn_id": self.turn_id})

    @staticmethod
    def from_event(event: Event) -> TurnStarted:
        return TurnStarted(turn_id=str(event.data["turn_id"]))


_DETECTION_TYPE = "detection"
STOCK_WAKE_SCORE = 1.0
"""The score of a wake that carries none (a stock satellite): it claims its room as if certain."""
STOCK_WAKE_LEVEL_DBFS = -30.0
"""The level of a wake that carries none (a stock satellite): a voice at arm's length."""
MAX_PREROLL_MS = 10_000.0
"""Longest pre-roll a detection may claim; more is nonsense and reads as none."""


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    """``data[key]`` if it is a number within ``low``..``high``; None if absent or not (a bool is no number)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        return None
    return float(value)


@dataclass(frozen=True)
class DetectionEvent(Eventable):
    """Wyoming's ``detection`` with our satellite's fields; the one reader for ours and a stock satellite's.

    A detection from a stock satellite (only ``name``), or with a field out of range, reads with the
    defaults below: never an error, because the wake happened either way.
    """

    name: str
    """The wake word's model name (Wyoming's field)."""
    score: float = STOCK_WAKE_SCORE
    """The wake model's score, 0-1 (room arbitration: the surest room answers)."""
    level_dbfs: float = STOCK_WAKE_LEVEL_DBFS
    """The wake phrase's level, dBFS (room arbitration: the loudest room answers a tie)."""
    near_miss: float | None = None
    """Peak score, 0-1, of a failed try just before: the user had to say the wake word twice."""
    preroll_ms: float = 0.0
    """How much of the audio stream that follows was captured before the wake model fired, ms (it holds
    the wake phrase, which the hub cuts from the transcript). 0: the stream starts after the wake."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _DETECTION_TYPE

    def event(self) -> Event:
        data: dict[str, Any] = {"name": self.name, "score": self.score, "level_dbfs": self.level_dbfs,
                                "preroll_ms": self.preroll_ms}
        if self.near_miss is not None:
            data["near_miss"] = self.near_miss
        return Event(type=_DETECTION_TYPE, data=data)

    @staticmethod
    def from_event(event: Event) -> DetectionEvent:
        data = event.data or {}
        score = _number(data, "score", 0.0, 1.0)
        level = _number(data, "level_dbfs", -200.0, 0.0)
        preroll = _number(data, "preroll_ms", 0.0, MAX_PREROLL_MS)
        return DetectionEvent(
            name=str(data.get("name") or ""),
            # A score of 0 cannot have woken anything: it reads as a score that is missing.
            score=score if score else STOCK_WAKE_SCORE,
            level_dbfs=level if level is not None else STOCK_WAKE_LEVEL_DBFS,
            near_miss=_number(data, "near_miss", 0.0, 1.0),
            preroll_ms=preroll or 0.0,
        )


_STRIPS_WAKE_PHRASE = "strips_wake_phrase"


def run_satellite(*, strips_wake_phrase: bool) -> Event:
    """``run-satellite``, saying whether this driver removes a leftover wake phrase from transcripts."""
    event = RunSatellite().event()
    return Event(type=event.type, data={**(event.data or {}), _STRIPS_WAKE_PHRASE: strips_wake_phrase})


def strips_wake_phrase(event: Event) -> bool:
    """True if the driver that sent this ``run-satellite`` removes the wake phrase (our hub); stock: False."""
    return (event.data or {}).get(_STRIPS_WAKE_PHRASE) is True


def audio_event_format(event: Event, *, expected: PcmFormat | None = None, mono: bool = False) -> PcmFormat:
    """The format of an ``audio-start`` / ``audio-chunk`` from a peer, checked by :func:`protocol.audio.check_audio`
    (with its payload's length); :class:`protocol.audio.AudioFormatError` if refused."""
    data = event.data or {}
    return check_audio(data.get("rate"), data.get("width"), data.get("channels"), len(event.payload or b""),
                       expected=expected, mono=mono)


STANDARD_EVENTS: tuple[type[Eventable], ...] = (
    Describe,
    Info,
    RunSatellite,
    PauseSatellite,
    Ping,
    Pong,
    RunPipeline,
    Detection,
    AudioStart,
    AudioChunk,
    AudioStop,
    VoiceStarted,
    VoiceStopped,
    Transcribe,
    Transcript,
    Synthesize,
    Played,
    TimerStarted,
    TimerUpdated,
    TimerCancelled,
    TimerFinished,
    Error,
)
"""Every stock Wyoming message class the hub or the satellite sends or handles."""

EXTENSION_EVENTS: tuple[type[Eventable], ...] = (InterruptEvent, TurnStarted, DetectionEvent)


# -- Satellite control over the satellite's own Wyoming link (hub/adapters/satellite_control.py) ---------
# The hub tells our satellite its volume, mute and learned tuning on the link the turns already use, so a
# house without MQTT still has them. Our satellite says its volume and mute (``satellite-state``) after
# ``run-satellite`` and on every change: that is also how the hub knows it understands these events (a stock
# satellite never sends it, and ignores the commands).

_SET_VOLUME_TYPE = "set-volume"
_SET_MUTE_TYPE = "set-mute"
_TUNE_TYPE = "tune"
_SATELLITE_STATE_TYPE = "satellite-state"
_LISTEN_TYPE = "listen"


def _percent(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"{key} must be a whole percent 0-100, got {value!r}")
    return value


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class SetVolume(Eventable):
    """hub -> satellite: play at ``volume`` percent from now on."""

    volume: int

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _SET_VOLUME_TYPE

    def event(self) -> Event:
        return Event(type=_SET_VOLUME_TYPE, data={"volume": self.volume})

    @staticmethod
    def from_event(event: Event) -> SetVolume:
        return SetVolume(volume=_percent(event.data or {}, "volume"))


@dataclass(frozen=True)
class SetMute(Eventable):
    """hub -> satellite: mute (no wake word, no streaming) or unmute the microphone."""

    muted: bool

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _SET_MUTE_TYPE

    def event(self) -> Event:
        return Event(type=_SET_MUTE_TYPE, data={"muted": self.muted})

    @staticmethod
    def from_event(event: Event) -> SetMute:
        return SetMute(muted=_flag(event.data or {}, "muted"))


@dataclass(frozen=True)
class Tune(Eventable):
    """hub -> satellite: what the room's learning decided (absent fields keep the satellite's value).

    ``wake_threshold`` 0.05-0.99; ``end_of_speech_silence_ms`` 100-3000 ms (the same bounds as the
    MQTT ``tune`` command).
    """

    wake_threshold: float | None = None
    end_of_speech_silence_ms: int | None = None

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _TUNE_TYPE

    def event(self) -> Event:
        data: dict[str, Any] = {}
        if self.wake_threshold is not None:
            data["wake_threshold"] = self.wake_threshold
        if self.end_of_speech_silence_ms is not None:
            data["end_of_speech_silence_ms"] = self.end_of_speech_silence_ms
        return Event(type=_TUNE_TYPE, data=data)

    @staticmethod
    def from_event(event: Event) -> Tune:
        data = event.data or {}
        threshold, silence = data.get("wake_threshold"), data.get("end_of_speech_silence_ms")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                                      or not 0.05 <= threshold <= 0.99):
            raise ValueError(f"wake_threshold must be 0.05-0.99, got {threshold!r}")
        if silence is not None and (isinstance(silence, bool) or not isinstance(silence, int)
                                    or not 100 <= silence <= 3000):
            raise ValueError(f"end_of_speech_silence_ms must be 100-3000, got {silence!r}")
        return Tune(wake_threshold=float(threshold) if threshold is not None else None,
                    end_of_speech_silence_ms=silence)


@dataclass(frozen=True)
class SatelliteStateEvent(Eventable):
    """satellite -> hub: its playback volume (percent) and whether its microphone is muted."""

    volume: int
    muted: bool

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _SATELLITE_STATE_TYPE

    def event(self) -> Event:
        return Event(type=_SATELLITE_STATE_TYPE, data={"volume": self.volume, "muted": self.muted})

    @staticmethod
    def from_event(event: Event) -> SatelliteStateEvent:
        data = event.data or {}
        return SatelliteStateEvent(volume=_percent(data, "volume"), muted=_flag(data, "muted"))


@dataclass(frozen=True)
class Listen(Eventable):
    """hub -> satellite: open the microphone for a follow-up once the current answer has finished playing.

    Sent after the hub asked the person to repeat; the satellite then starts a turn as ``start_conversation``
    does (chime, ``run-pipeline``, audio, no wake word). A wake word, a barge-in or any other turn before that
    drops it, and a muted satellite ignores it. No data.
    """

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == _LISTEN_TYPE

    def event(self) -> Event:
        return Event(type=_LISTEN_TYPE, data={})

    @staticmethod
    def from_event(event: Event) -> Listen:
        if not Listen.is_type(event.type):
            raise ValueError(f"listen must be a listen event, got {event.type!r}")
        return Listen()


CONTROL_EVENTS: tuple[type[Eventable], ...] = (SetVolume, SetMute, Tune, Listen, SatelliteStateEvent)
"""Our control extension: the four hub -> satellite commands and the satellite's state."""
