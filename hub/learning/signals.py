"""Turn signals: what people did, read off the event stream (no labels, no questions asked).

One :class:`TurnSignals` per finished turn. Whether a turn was followed up or corrected is
only known when the next turn on that satellite speaks (or when the follow-up window has
passed on the event clock), so a finished turn waits here until then. Everything is
derived from event fields (``t``, ``wall``, ``data``), never from a clock, so a recorded
session yields the same signals when replayed.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, replace
from typing import Any

from hub.conversation.event_data import (
    AskedToRepeat,
    AudioStarted,
    EndOfSpeech,
    Interrupted,
    LlmStarted,
    SpeechEnded,
    SpeechStarted,
    Transcript,
    TurnEnded,
    TurnStarted,
)
from hub.conversation.events import ConversationEvent
from hub.pipeline.transcript import Doubt
from protocol.payloads import InterruptReason

FOLLOW_UP_S = 8.0
"""A new turn this soon after an answer is a follow-up (or a correction) of it."""

USER_INTERRUPTS = frozenset({InterruptReason.WAKE_WORD, InterruptReason.SPEECH, InterruptReason.COMMAND})
"""Interrupt reasons that are a person's doing (``hub`` is the hub's own, e.g. shutdown)."""

DANGLING = frozenset({
    "and", "or", "but", "the", "a", "an", "to", "of", "for", "with", "in", "on", "at", "my", "your", "our",
    "is", "are", "was", "that", "which", "because", "so", "if", "then", "from", "by", "about", "um", "uh",
})
"""Last words that say the sentence was not finished: the end-of-speech window cut it off."""

CUT_BY = frozenset({EndOfSpeech.HUB, EndOfSpeech.SATELLITE, EndOfSpeech.SILENCE})
"""Ends of speech that may cut a sentence off: a silence window (the hub's or the satellite's), not a cap."""

_CORRECTION = re.compile(r"^(no[,.!]?\s|no$|nope\b|not that\b|that's not\b|that is not\b|wrong\b|i said\b)", re.I)
_WORDS = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


@dataclass(frozen=True)
class TurnSignals:
    satellite: str
    room: str
    turn_id: str
    started_wall: float
    ended_t: float
    outcome: str
    woke: bool
    """Opened by a wake word (not by a command or an announcement)."""
    heard_speech: bool
    false_wake: bool
    """Woke, then nobody spoke (no words, or the recogniser judged the audio to hold no speech)."""
    near_miss: bool
    """The satellite had a near miss just before this wake: the user had to say it twice."""
    interrupted: bool
    """A person stopped the answer (wake word, speech or a stop command)."""
    cut_off: bool
    """The end-of-speech window ended the utterance mid-sentence."""
    pause_ms: float | None
    """Longest pause inside the utterance that did not end it."""
    silence_ms: float | None
    """The end-of-speech window in force for this turn."""
    transcript: str
    style: str | None
    follow_up: bool = False
    corrected: bool = False
    """The next turn corrected this one ("no, I said ...", or the same words again)."""
    asked_to_repeat: bool = False
    """The hub did not act on what it heard (a fragment, or too unsure of it) and asked the person again."""
    doubt: str | None = None
    """Why the hub did not act on the transcript (``hub.pipeline.transcript.Doubt``: no_speech, fragment, low_confidence)."""
    command_guessed: bool = False
    """A speculative transcript in this turn was a complete command (the short window applied to it)."""
    continued_ms: float | None = None
    """Longest pause after a complete command from which the person went on (the short window's near miss)."""


class _OpenTurn:
    def __init__(self, event: ConversationEvent, data: TurnStarted) -> None:
        self.turn_id = event.turn_id or ""
        self.room = data.room or event.satellite
        self.started_wall = event.wall
        self.woke = data.wake is not None and bool(data.wake.wake_word)
        self.near_miss = data.wake is not None and data.wake.near_miss is not None
        self.listen = data.listen
        self.transcript = ""
        self.heard_speech = False
        self.speech_by: EndOfSpeech | None = None
        self.pause_ms: float | None = None
        self.silence_ms: float | None = None
        self.interrupted = False
        self.answered = False
        self.style: str | None = None
        self.asked_to_repeat = False
        self.doubt: str | None = None
        self.command_guessed = False
        self.continued_ms: float | None = None

    def finish(self, event: ConversationEvent, data: TurnEnded) -> TurnSignals:
        text_words = words(self.transcript)
        cut_off = self.speech_by in CUT_BY and bool(text_words) and text_words[-1] in DANGLING
        return TurnSignals(
            satellite=event.satellite, room=self.room, turn_id=self.turn_id, started_wall=self.started_wall,
            ended_t=event.t, outcome=data.outcome.value, woke=self.woke,
            heard_speech=self.heard_speech,
            false_wake=self.woke and self.listen and (not text_words or self.doubt == Doubt.NO_SPEECH),
            near_miss=self.near_miss, interrupted=self.interrupted, cut_off=cut_off, pause_ms=self.pause_ms,
            silence_ms=self.silence_ms, transcript=self.transcript, style=self.style,
            asked_to_repeat=self.asked_to_repeat, doubt=self.doubt, command_guessed=self.command_guessed,
            continued_ms=self.continued_ms,
        )


class SignalExtractor:
    """Feed every event; get back the turns whose signals are now complete."""

    def __init__(self) -> None:
        self._open: dict[str, _OpenTurn] = {}
        self._waiting: dict[str, TurnSignals] = {}  # answered turns waiting to see if a follow-up comes

    def feed(self, event: ConversationEvent) -> list[TurnSignals]:
        # Any event moves the clock on: answers nobody followed up in time are judged now.
        done = [self._waiting.pop(s) for s, w in list(self._waiting.items()) if event.t - w.ended_t > FOLLOW_UP_S]
        data = event.data
        if isinstance(data, TurnStarted):
            self._open[event.satellite] = _OpenTurn(event, data)
            return done
        turn = self._open.get(event.satellite)
        if turn is None or event.turn_id != turn.turn_id:
            return done
        if isinstance(data, SpeechStarted):
            turn.heard_speech = True
        elif isinstance(data, SpeechEnded):
            turn.speech_by = data.by
            turn.pause_ms = data.pause_ms
            turn.silence_ms = data.silence_ms
            turn.command_guessed = data.command_guessed
            turn.continued_ms = data.command_continued_ms
        elif isinstance(data, Transcript):
            turn.transcript = data.text
            turn.heard_speech = turn.heard_speech or bool(turn.transcript.strip())
            turn.doubt = data.doubt
            done.extend(self._judge_previous(event.satellite, turn.transcript))
        elif isinstance(data, AskedToRepeat):
            turn.asked_to_repeat = True
            turn.doubt = data.reason
        elif isinstance(data, LlmStarted):
            turn.style = data.style or None
        elif isinstance(data, AudioStarted):
            turn.answered = True
        elif isinstance(data, Interrupted):
            turn.interrupted = data.reason in USER_INTERRUPTS
        elif isinstance(data, TurnEnded):
            del self._open[event.satellite]
            signals = turn.finish(event, data)
            previous = self._waiting.pop(event.satellite, None)
            if previous is not None:  # this turn said nothing that judged it: plain, no follow-up
                done.append(previous)
            if turn.answered and not signals.interrupted:
                self._waiting[event.satellite] = signals
            else:
                done.append(signals)
        return done

    def _judge_previous(self, satellite: str, text: str) -> list[TurnSignals]:
        previous = self._waiting.pop(satellite, None)
        if previous is None or not words(text):
            if previous is not None:
                self._waiting[satellite] = previous
            return []
        corrected = bool(_CORRECTION.match(text.strip())) or words(text) == words(previous.transcript)
        return [replace(previous, corrected=corrected, follow_up=not corrected)]

    def waiting(self) -> list[dict[str, Any]]:
        """Answered turns still waiting for a follow-up, as JSON (for a recording's snapshot)."""
        return [dataclasses.asdict(s) for s in self._waiting.values()]

    def restore_waiting(self, waiting: list[dict[str, Any]]) -> None:
        for raw in waiting:
            signals = TurnSignals(**raw)
            self._waiting[signals.satellite] = signals

    def flush(self) -> list[TurnSignals]:
        """Turns still waiting for a follow-up (at shutdown, or the end of a replay)."""
        done = list(self._waiting.values())
        self._waiting.clear()
        return done

