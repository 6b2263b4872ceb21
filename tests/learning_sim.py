"""Synthetic households for the learning layer: users with known habits, as event streams.

Each simulated turn is the event sequence the real hub emits (turn-started, speech,
transcript, answer, interrupt, turn-ended), shaped by the room's users and by the values the
learner currently holds: a pause longer than the end-of-speech window cuts the sentence, a
wake score under the threshold makes the user say it again, a style they dislike gets
interrupted. The best settings are therefore known in advance.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from hub.conversation import event_data as ev
from hub.conversation.events import ConversationEvent, EventData
from hub.learning.contract import END_OF_SPEECH, WAKE_THRESHOLD
from hub.learning.learner import Learner
from protocol.payloads import InterruptReason, TurnOutcome

COMMANDS = ("set a timer for ten minutes", "what is the weather like tomorrow", "play some quiet music please",
            "tell me about the moon", "how far away is the sun", "remind me to call grandma tonight")
START_WALL = 1_795_420_800.0 + 7 * 3600  # a fixed morning, so the time-of-day context stays put


@dataclass(frozen=True)
class Household:
    room: str
    pause_ms: tuple[float, float] = (120.0, 40.0)
    """Mean and spread of the longest pause people make inside a sentence."""
    user_wake_scores: tuple[float, float] = (0.85, 1.0)
    """Range of the wake model's score when people here say the wake word."""
    tv_false_wake: float = 0.0
    """Chance per turn that the TV says something wake-like..."""
    tv_scores: tuple[float, float] = (0.3, 0.9)
    """... scoring in this range."""
    follow_up: dict[str, float] | None = None
    """Chance of a follow-up question after each style of answer."""
    interrupt: dict[str, float] | None = None
    """Chance of being interrupted, per style."""


class Simulation:
    def __init__(self, learner: Learner, households: list[Household], seed: int = 7,
                 sink: Callable[[ConversationEvent], None] | None = None) -> None:
        self.learner = learner
        self.households = households
        self.rng = random.Random(seed)
        self.t = 1000.0
        self.turns = 0
        self.cut_offs: dict[str, list[bool]] = {h.room: [] for h in households}
        self.false_wakes: dict[str, list[bool]] = {h.room: [] for h in households}
        self.styles: dict[str, list[str]] = {h.room: [] for h in households}
        self._sink = sink or learner

    def emit(self, satellite: str, turn_id: str | None, data: EventData) -> None:
        self._sink(ConversationEvent(satellite, data, t=self.t, wall=START_WALL + self.t, turn_id=turn_id))

    def run(self, turns_per_room: int) -> None:
        for _ in range(turns_per_room):
            for household in self.households:
                self.turn(household)

    def turn(self, home: Household) -> None:
        rng, room = self.rng, home.room
        satellite = f"{room}-sat"
        self.turns += 1
        threshold = self.learner.value(room, WAKE_THRESHOLD)
        window = self.learner.value(room, END_OF_SPEECH)
        if home.tv_false_wake and rng.random() < home.tv_false_wake and rng.uniform(*home.tv_scores) >= threshold:
            turn_id = f"t{self.turns}x"
            self.emit(satellite, turn_id, ev.TurnStarted(room=room, wake=ev.Wake(wake_word="hey_jarvis"), listen=True))
            self.t += 5.0
            self.emit(satellite, turn_id, ev.SpeechEnded(by=ev.EndOfSpeech.HUB, speech_end_t=self.t,
                                                         silence_ms=window))
            self.emit(satellite, turn_id, ev.Transcript(text="", audio_ms=5000.0, stt_ms=100.0))
            self.emit(satellite, turn_id, ev.TurnEnded(outcome=TurnOutcome.TIMEOUT))
            self.false_wakes[room].append(True)
            self.t += 30.0
        attempts = 0
        near_miss = False
        while rng.uniform(*home.user_wake_scores) < threshold:  # not heard: the user says it again
            attempts += 1
            near_miss = True
            if attempts == 3:
                return  # gave up
        self.false_wakes[room].append(False)
        turn_id = f"t{self.turns}"
        wake = ev.Wake(wake_word="hey_jarvis", near_miss=0.4 if near_miss else None)
        self.emit(satellite, turn_id, ev.TurnStarted(room=room, wake=wake, listen=True))
        self.emit(satellite, turn_id, ev.SpeechStarted())
        pause = max(0.0, rng.gauss(*home.pause_ms))
        cut = pause >= window
        self.cut_offs[room].append(cut)
        self.t += 2.0
        request = COMMANDS[self.turns % len(COMMANDS)]
        text = " ".join(request.split()[:3]) + " the" if cut else request  # cut off: the sentence dangles
        self.emit(satellite, turn_id, ev.SpeechEnded(by=ev.EndOfSpeech.SATELLITE, speech_end_t=self.t,
                                                     silence_ms=window,
                                                     pause_ms=rng.uniform(60, 140) if cut else pause))
        self.emit(satellite, turn_id, ev.Transcript(text=text, audio_ms=2000.0, stt_ms=150.0))
        style = self.learner.style_for(satellite, room)
        self.styles[room].append(style)
        self.emit(satellite, turn_id, ev.LlmStarted(prompt="...", style=style))
        self.emit(satellite, turn_id, ev.AudioStarted())
        self.t += 2.0
        if home.interrupt and rng.random() < home.interrupt.get(style, 0.0):
            self.emit(satellite, turn_id, ev.Interrupted(reason=InterruptReason.WAKE_WORD, spoken=""))
            self.emit(satellite, turn_id, ev.TurnEnded(outcome=TurnOutcome.INTERRUPTED, transcript=text))
        else:
            self.emit(satellite, turn_id, ev.TurnEnded(outcome=TurnOutcome.DONE, transcript=text, response="ok"))
        follows = home.follow_up is not None and rng.random() < home.follow_up.get(style, 0.0)
        self.t += 3.0 if follows else 40.0
