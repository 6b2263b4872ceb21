"""Per-room rules: from the evidence gathered under the current value, where should it go?

Each rule returns a target and why (or None: stay), and each parameter has its own reward
so a change is judged on what it affects (a wake threshold is not blamed for a cut-off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.learning.contract import COMMAND_WINDOW, END_OF_SPEECH, WAKE_THRESHOLD, ParameterSpec
from hub.learning.signals import TurnSignals

END_OF_SPEECH_FLOOR_MS = 500
"""The shortest end-of-speech window learning may choose. People pause mid-command to find a word
("turn on the ... kitchen lights"); such hesitations commonly run 200-500 ms, and Home Assistant's own
default window is 700 ms. 500 ms leaves a terse room 200 ms to gain while a thinking pause of up to
half a second never ends the utterance. Lower it only with a measured set of real pauses."""


COMMAND_WINDOW_MS = 600
"""[conversation] command_silence_ms's default: the longest pause after a complete command that the full
window would not cut anyway was 576 ms in bench/pause_set.py, so 600 cuts nobody there."""
COMMAND_WINDOW_FLOOR_MS = 300
"""The shortest command window learning may choose: below it whisper, not the window, is what waits."""
COMMAND_MARGIN_MS = 100
"""Window = the longest pause after which people here went on past a complete command, plus this margin."""
MIN_CONTINUED = 8
"""Pauses seen after complete commands (the person went on) before the command window may be shortened."""


def parameters(end_of_speech_floor_ms: float = END_OF_SPEECH_FLOOR_MS,
               command_window_ms: float = 0) -> dict[str, ParameterSpec]:
    """The learned parameters and their contracts; the end-of-speech floor and the command window's
    starting value are settings (the hub passes [conversation] command_silence_ms; 0: off, not learned)."""
    specs = {
        END_OF_SPEECH: ParameterSpec(
            name=END_OF_SPEECH, default=700, low=end_of_speech_floor_ms, high=2000, max_step=200, cooldown_turns=12,
            min_evidence=10, probation_turns=10, rollback_drop=0.25, digits=0),
        WAKE_THRESHOLD: ParameterSpec(
            name=WAKE_THRESHOLD, default=0.6, low=0.35, high=0.9, max_step=0.05, cooldown_turns=15, min_evidence=15,
            probation_turns=15, rollback_drop=0.2, digits=2),
    }
    if command_window_ms > 0:
        specs[COMMAND_WINDOW] = ParameterSpec(
            name=COMMAND_WINDOW, default=command_window_ms, low=min(COMMAND_WINDOW_FLOOR_MS, command_window_ms),
            high=2000, max_step=100, cooldown_turns=12, min_evidence=10, probation_turns=10, rollback_drop=0.25,
            digits=0)
    return specs


PARAMETERS: dict[str, ParameterSpec] = parameters()

CUT_OFF_RATE_RAISE = 0.1
"""This share of utterances cut mid-sentence lengthens the end-of-speech window."""
PAUSE_MARGIN_MS = 100
"""Window = the 90th percentile of the room's longest pauses plus this margin."""
MEASURED_PAUSE_MS = 100
"""A longest in-utterance pause this long (three VAD windows) is a pause someone made, not a gap between
two voiced windows. An utterance without one says nothing about how long people here pause."""
MIN_PAUSED_UTTERANCES = 8
"""Utterances with a measured pause needed before the window may be shortened: "stop", synthetic speech
and one-breath commands show no pause at all, and no pause seen is no evidence that none will come."""
WAKE_RATE = 0.15
"""False wakes (or repeated wake words) in this share of wakes move the threshold."""


@dataclass(frozen=True)
class Target:
    value: float
    reason: str
    evidence: dict[str, float | int | str]


def relevant(parameter: str, signals: TurnSignals) -> bool:
    """Is this turn evidence about the parameter?"""
    if parameter == END_OF_SPEECH:
        return signals.heard_speech and signals.transcript.strip() != ""
    if parameter == COMMAND_WINDOW:
        return signals.command_guessed
    return signals.woke


def reward(parameter: str, signals: TurnSignals, value: float) -> float:
    """Higher is better; compared before and after a change to decide on a rollback."""
    if parameter == END_OF_SPEECH:
        window_s = (signals.silence_ms if signals.silence_ms is not None else value) / 1000
        return -2.0 * signals.cut_off - 0.5 * window_s  # a cut-off costs a repeat; every ms waited costs a little
    if parameter == COMMAND_WINDOW:
        # Going on within the margin of the window is a near cut-off; a shorter window earns its wait back.
        near = signals.continued_ms is not None and signals.continued_ms >= value - COMMAND_MARGIN_MS
        return -2.0 * near - 0.5 * value / 1000
    return -1.0 * signals.false_wake - 1.0 * signals.near_miss


def end_of_speech_target(current: float, evidence: Sequence[TurnSignals]) -> Target | None:
    cut = sum(s.cut_off for s in evidence)
    rate = cut / len(evidence)
    pauses = sorted(s.pause_ms for s in evidence
                    if not s.cut_off and s.pause_ms is not None and s.pause_ms >= MEASURED_PAUSE_MS)
    p90 = pauses[min(len(pauses) - 1, int(0.9 * len(pauses)))] if pauses else 0.0
    facts: dict[str, float | int | str] = {"turns": len(evidence), "cut_off": cut, "paused": len(pauses),
                                           "pause_p90_ms": round(p90)}
    if rate >= CUT_OFF_RATE_RAISE:
        return Target(current + PARAMETERS[END_OF_SPEECH].max_step,
                      f"{cut} of {len(evidence)} utterances were cut off mid-sentence", facts)
    if len(pauses) < MIN_PAUSED_UTTERANCES:
        return None  # learning from nothing is how a room reached 300 ms on speech that never paused
    need = p90 + PAUSE_MARGIN_MS
    if abs(need - current) < 25:
        return None
    if need < current:
        return Target(need, f"people here pause at most {p90:.0f} ms (90th percentile of {len(pauses)} utterances "
                            f"with pauses): a shorter window is safe", facts)
    return Target(need, f"pauses of {p90:.0f} ms come close to the {current:.0f} ms window", facts)


def wake_threshold_target(current: float, evidence: Sequence[TurnSignals]) -> Target | None:
    false = sum(s.false_wake for s in evidence)
    repeats = sum(s.near_miss for s in evidence)
    false_rate, repeat_rate = false / len(evidence), repeats / len(evidence)
    facts: dict[str, float | int | str] = {"wakes": len(evidence), "false_wakes": false, "repeated_wakes": repeats}
    step = PARAMETERS[WAKE_THRESHOLD].max_step
    if false_rate > WAKE_RATE and false_rate >= repeat_rate:
        return Target(current + step, f"{false} of {len(evidence)} wakes heard nobody speak", facts)
    if repeat_rate > WAKE_RATE and false_rate < WAKE_RATE / 2:
        return Target(current - step, f"people had to repeat the wake word in {repeats} of {len(evidence)} wakes",
                      facts)
    return None


def command_window_target(current: float, evidence: Sequence[TurnSignals]) -> Target | None:
    """Longer at once when people here go on after a complete command close to the window; shorter only
    from measured pauses (never from their absence: a command nobody continued says nothing of pauses)."""
    continued = sorted(s.continued_ms for s in evidence if s.continued_ms is not None)
    facts: dict[str, float | int | str] = {"turns": len(evidence), "continued": len(continued),
                                           "longest_continued_ms": round(continued[-1]) if continued else 0}
    if continued and continued[-1] >= current - COMMAND_MARGIN_MS:
        return Target(continued[-1] + COMMAND_MARGIN_MS,
                      f"someone went on after a complete command {continued[-1]:.0f} ms into the pause, close to "
                      f"the {current:.0f} ms window", facts)
    if len(continued) < MIN_CONTINUED:
        return None
    need = max(COMMAND_WINDOW_FLOOR_MS, continued[-1] + COMMAND_MARGIN_MS)
    if current - need < 25:
        return None
    return Target(need, f"after a complete command people here went on within {continued[-1]:.0f} ms "
                        f"({len(continued)} times): a shorter window is safe", facts)


RULES = {END_OF_SPEECH: end_of_speech_target, WAKE_THRESHOLD: wake_threshold_target,
         COMMAND_WINDOW: command_window_target}
