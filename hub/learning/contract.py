"""The learning contract: what every update must satisfy before it touches a room.

Bounded step size, a cooldown between changes, a minimum of evidence gathered under the
current value, and hard limits per parameter. A proposal that breaks any rule is rejected
with the rule's reason; the learner logs and publishes it and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

END_OF_SPEECH = "end_of_speech_ms"
COMMAND_WINDOW = "command_silence_ms"
"""The short end-of-speech window for a transcript that is already a complete command (hub.pipeline.turn)."""
WAKE_THRESHOLD = "wake_threshold"


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: float
    low: float
    high: float
    """Hard limits: no update may leave them."""
    max_step: float
    """Largest change one update may make."""
    cooldown_turns: int
    """Turns in the room between two changes of this parameter."""
    min_evidence: int
    """Turns observed under the current value before it may change."""
    probation_turns: int
    """Turns after a change before its reward is compared with the reward before it."""
    rollback_drop: float
    """A mean reward this much lower after a change rolls it back."""
    digits: int
    """Values are rounded to this many decimals (ms: 0, thresholds: 2)."""


@dataclass(frozen=True)
class Proposal:
    room: str
    parameter: str
    old: float
    new: float
    reason: str
    evidence: dict[str, float | int | str]


def check(spec: ParameterSpec, proposal: Proposal, *, turns_since_change: int, evidence_turns: int,
          frozen: bool, enabled: bool) -> str | None:
    """None if the proposal may be applied, else why not (one line, for the log and MQTT)."""
    if not enabled:
        return "learning is switched off"
    if frozen:
        return f"{spec.name} is frozen in the {proposal.room}"
    if not spec.low <= proposal.new <= spec.high:
        return f"{proposal.new:g} is outside the hard limits [{spec.low:g}, {spec.high:g}]"
    if abs(proposal.new - proposal.old) > spec.max_step + 1e-9:
        return f"a step of {abs(proposal.new - proposal.old):g} is larger than the bound {spec.max_step:g}"
    if turns_since_change < spec.cooldown_turns:
        return f"cooling down: {turns_since_change} of {spec.cooldown_turns} turns since the last change"
    if evidence_turns < spec.min_evidence:
        return f"not enough evidence: {evidence_turns} of {spec.min_evidence} turns under the current value"
    return None
