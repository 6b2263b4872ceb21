"""When a spoken command is over: one rule and one set of defaults for the satellite and the hub.

Two deciders apply it, each with its own VAD on its own side of the wire:

- our satellite (satellite/dsp/vad.py ``EndOfSpeech``, WebRTC VAD per 80 ms block) ends the stream itself
  with ``audio-stop``, timed from the wake (the pre-roll before it is not counted);
- the hub (hub/pipeline/endpointing.py ``Endpointer``, silero) decides for a stock ``wyoming-satellite``,
  which streams until told to stop, and times the true end of speech for every turn.

Their defaults were 4 s (satellite) and 5 s (hub) of nobody speaking before giving up. 4 s is kept: it is
the satellite's documented ``[vad] no_speech_ms``, the one our satellite runs on with any driver; the hub's
5 s was an undocumented constant that only a stock satellite ever reached (our hub's stream starts with
the wake phrase, which is speech). A stock satellite's empty wake now ends 1 s sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SILENCE_MS = 700
"""Silence after speech that ends a command, ms."""
NO_SPEECH_MS = 4000
"""Give up when nobody has spoken this long after the wake, ms."""
MAX_SPEECH_MS = 15000
"""Hard maximum for one command, ms, so a turn never hangs on a noisy room (below the wire's 30 s cap)."""


class SpeechEnd(StrEnum):
    """Why a decider ended the command."""

    SILENCE = "silence"
    NO_SPEECH = "no_speech"
    MAX_LENGTH = "max_length"


@dataclass(frozen=True)
class SpeechEndRule:
    """The rule both deciders apply to the audio heard so far; the first limit reached wins."""

    silence_ms: float = SILENCE_MS
    no_speech_ms: float = NO_SPEECH_MS
    max_ms: float = MAX_SPEECH_MS

    def decide(self, heard_ms: float, speech_heard: bool, silence_run_ms: float) -> SpeechEnd | None:
        """``heard_ms`` of audio so far, whether any of it was speech, and the silence since the last speech."""
        if heard_ms >= self.max_ms:
            return SpeechEnd.MAX_LENGTH
        if not speech_heard and heard_ms >= self.no_speech_ms:
            return SpeechEnd.NO_SPEECH
        if speech_heard and silence_run_ms >= self.silence_ms:
            return SpeechEnd.SILENCE
        return None
