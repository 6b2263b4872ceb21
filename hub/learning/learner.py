"""The learning layer: per-room settings adapted from what people do, under a contract.

It listens to the conversation event stream (nothing else), so replaying a recorded
session through a learner restored from the session's snapshot makes the same decisions.
Side effects leave through three callbacks: ``on_decision`` (MQTT and the recorder),
``on_change`` (tell the room's satellites and sessions) and ``on_state`` (persist).

Per room it tunes the end-of-speech window and the wake threshold (see ``rules``) and
picks a response style per turn (``bandit``). Every change is a :class:`Proposal` checked
by the contract; a change is on probation for a few turns and rolled back automatically if
its reward drops. Commands freeze, unfreeze, reset, roll back, enable or disable it.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from hub.conversation.event_data import ArbitrationLost, TurnEnded, TurnStarted
from hub.conversation.events import ConversationEvent
from hub.learning.bandit import StyleBandit, style_reward
from hub.learning.commands import STYLE, LearnerCommands, LearningCommandError
from hub.learning.contract import ParameterSpec, Proposal, check
from hub.learning.parameter import Parameter
from hub.learning.rules import PARAMETERS, RULES, relevant, reward
from hub.learning.signals import SignalExtractor, TurnSignals
from protocol.payloads import LearningAction, LearningDecision

__all__ = ["Learner", "LearningCommandError"]

_LOGGER = logging.getLogger(__name__)

ROOM_PREFERENCE = "room_preference"
PREFERENCE_STEP = 0.03
PREFERENCE_LIMIT = 0.15
"""Arbitration rank bonus per satellite: bounded, so a clearly better wake still wins."""
REPEAT_ELSEWHERE_S = 10.0
"""A wake in the room that lost arbitration this soon after means that room was the one meant."""
EVIDENCE_KEPT = 40
REWARDS_KEPT = 50
SNAPSHOTS_KEPT = 10


class Learner(LearnerCommands):
    def __init__(self, *, enabled: bool = True, state: dict[str, Any] | None = None,
                 on_decision: Callable[[LearningDecision], None] = lambda d: None,
                 on_change: Callable[[str, str, float], None] = lambda room, parameter, value: None,
                 on_state: Callable[[dict[str, Any]], None] = lambda s: None,
                 parameters: Mapping[str, ParameterSpec] = PARAMETERS) -> None:
        state = state or {}
        self.parameters = dict(parameters)
        """Each parameter's contract (``rules.parameters()``: the end-of-speech floor is a setting)."""
        self.enabled = bool(state.get("enabled", enabled))
        self.frozen_styles: set[str] = set(state.get("frozen_styles", []))
        self.rooms: dict[str, dict[str, Parameter]] = {
            room: {name: Parameter.from_json(p) for name, p in params.items()}
            for room, params in state.get("rooms", {}).items()
        }
        for params in self.rooms.values():  # a value learned under older, looser limits is brought inside them
            for name, p in params.items():
                spec = self.parameters.get(name)
                if spec is not None and not spec.low <= p.value <= spec.high:
                    p.value = max(spec.low, min(spec.high, p.value))
        self.bandit = StyleBandit(state.get("bandit"))
        self.preferences: dict[str, float] = dict(state.get("preferences", {}))
        self._lost: dict[str, float] = {}  # satellite -> when it lost an arbitration
        self._wakes: list[tuple[str, float]] = []  # recent (satellite, t) of turns opened by a wake
        self._signals = SignalExtractor()
        self._signals.restore_waiting(state.get("waiting", []))
        self._styles: dict[str, str] = {}
        self.on_decision, self.on_change, self.on_state = on_decision, on_change, on_state

    # -- what the rest of the hub asks ------------------------------------------------------
    def state(self, *, waiting: bool = False) -> dict[str, Any]:
        """JSON-ready state; ``waiting`` adds turns not yet judged (a recording's snapshot needs them)."""
        return {
            **({"waiting": self._signals.waiting()} if waiting else {}),
            "enabled": self.enabled,
            "frozen_styles": sorted(self.frozen_styles),
            "rooms": {room: {n: p.to_json() for n, p in params.items()} for room, params in self.rooms.items()},
            "bandit": self.bandit.state(),
            "preferences": dict(self.preferences),
        }

    def value(self, room: str, parameter: str) -> float:
        return self._room(room)[parameter].value

    def values(self, room: str) -> dict[str, float]:
        return {name: p.value for name, p in self._room(room).items()}

    def style_for(self, satellite: str, room: str) -> str:
        return self._styles.get(satellite, "normal")

    def room_preference(self, satellite: str) -> float:
        """Bonus added to this satellite's arbitration rank (learned; 0 when nothing is known)."""
        return self.preferences.get(satellite, 0.0) if self.enabled else 0.0

    # -- the event stream ----------------------------------------------------------------------
    def __call__(self, event: ConversationEvent) -> None:
        finished = self._signals.feed(event)
        for signals in finished:
            self._learn(signals)
        data = event.data
        if isinstance(data, TurnStarted):
            self._choose_style(event, data)
            if data.wake is not None and data.wake.wake_word:
                self._wake_started(event.satellite, event.t)
        elif isinstance(data, ArbitrationLost):
            self._lost[event.satellite] = event.t
        if finished or isinstance(data, TurnEnded):
            self.on_state(self.state())

    def flush(self) -> None:
        for signals in self._signals.flush():
            self._learn(signals)
        self.on_state(self.state())

    def _choose_style(self, event: ConversationEvent, data: TurnStarted) -> None:
        room = data.room or event.satellite
        self._styles.pop(event.satellite, None)
        if not self.enabled or room in self.frozen_styles:
            return
        choice = self.bandit.choose(room, event.wall)
        self._styles[event.satellite] = choice.style
        self._decide(LearningDecision(
            room=room, parameter=STYLE, action=LearningAction.STYLE, new_value=choice.style,
            reason=f"Thompson sampling for {choice.context}", evidence={f"{s}_mean": m for s, m in choice.means.items()},
        ), quiet=True)

    def _wake_started(self, satellite: str, t: float) -> None:
        lost_t = self._lost.pop(satellite, None)
        self._wakes = [(s, w) for s, w in self._wakes if t - w <= REPEAT_ELSEWHERE_S][-20:] + [(satellite, t)]
        if lost_t is None or t - lost_t > REPEAT_ELSEWHERE_S or not self.enabled:
            return
        winners = [s for s, w in self._wakes if s != satellite and abs(w - lost_t) <= 1.0]
        if not winners:
            return
        winner = winners[-1]
        # The person woke this room again right after another room took the wake: they meant this one.
        for who, step in ((satellite, PREFERENCE_STEP), (winner, -PREFERENCE_STEP)):
            old = self.preferences.get(who, 0.0)
            new = round(max(-PREFERENCE_LIMIT, min(PREFERENCE_LIMIT, old + step)), 3)
            if new == old:
                continue
            self.preferences[who] = new
            self._decide(LearningDecision(
                room=who, parameter=ROOM_PREFERENCE, action=LearningAction.UPDATE, old_value=old, new_value=new,
                reason=f"{satellite} was woken again {t - lost_t:.1f} s after {winner} won the arbitration",
                evidence={"won": winner, "meant": satellite}))

    def _learn(self, signals: TurnSignals) -> None:
        room = self._room(signals.room)
        if self.enabled and signals.style and signals.room not in self.frozen_styles:
            self.bandit.update(signals.room, signals.started_wall, signals.style, style_reward(signals))
        for name, parameter in room.items():
            if not relevant(name, signals):
                continue
            spec = self.parameters[name]
            parameter.turns_since_change += 1
            parameter.evidence = (parameter.evidence + [signals])[-EVIDENCE_KEPT:]
            earned = reward(name, signals, parameter.value)
            if parameter.probation is not None:
                parameter.probation["rewards"].append(earned)
                if len(parameter.probation["rewards"]) >= spec.probation_turns:
                    self._judge(signals.room, name, parameter)
                continue
            parameter.rewards = (parameter.rewards + [earned])[-REWARDS_KEPT:]
            if (not self.enabled or parameter.frozen or parameter.turns_since_change < spec.cooldown_turns
                    or len(parameter.evidence) < spec.min_evidence):
                continue
            target = RULES[name](parameter.value, parameter.evidence)
            if target is None:
                continue
            step = max(-spec.max_step, min(spec.max_step, target.value - parameter.value))
            new = round(max(spec.low, min(spec.high, parameter.value + step)), spec.digits)
            if new != parameter.value:
                self.propose(Proposal(signals.room, name, parameter.value, new, target.reason, target.evidence))

    # -- changes -------------------------------------------------------------------------------
    def propose(self, proposal: Proposal) -> bool:
        """Apply ``proposal`` if the contract allows it; either way the decision is published."""
        spec = self.parameters[proposal.parameter]
        parameter = self._room(proposal.room)[proposal.parameter]
        refusal = check(spec, proposal, turns_since_change=parameter.turns_since_change,
                        evidence_turns=len(parameter.evidence), frozen=parameter.frozen, enabled=self.enabled)
        if refusal is None and parameter.probation is not None:
            refusal = "the previous change is still on probation"
        if refusal is not None:
            _LOGGER.warning("learning: rejected %s %g -> %g in the %s: %s", proposal.parameter, proposal.old,
                            proposal.new, proposal.room, refusal)
            self._decide(LearningDecision(
                room=proposal.room, parameter=proposal.parameter, action=LearningAction.REJECTED,
                old_value=proposal.old, new_value=proposal.new, reason=f"{proposal.reason}; rejected: {refusal}",
                evidence=proposal.evidence))
            return False
        recent = parameter.rewards[-spec.probation_turns:]
        parameter.probation = {"old": parameter.value, "new": proposal.new,
                               "before": statistics.fmean(recent) if recent else None, "rewards": []}
        parameter.snapshots = (parameter.snapshots + [parameter.value])[-SNAPSHOTS_KEPT:]
        self._set(proposal.room, proposal.parameter, parameter, proposal.new)
        self._decide(LearningDecision(
            room=proposal.room, parameter=proposal.parameter, action=LearningAction.UPDATE, old_value=proposal.old,
            new_value=proposal.new, reason=proposal.reason, evidence=proposal.evidence))
        return True

    def _judge(self, room: str, name: str, parameter: Parameter) -> None:
        spec = self.parameters[name]
        probation, parameter.probation = parameter.probation, None
        assert probation is not None
        after = statistics.fmean(probation["rewards"])
        before = probation["before"]
        if before is not None and after < before - spec.rollback_drop:
            old = probation["old"]
            if parameter.snapshots and parameter.snapshots[-1] == old:
                parameter.snapshots.pop()
            self._set(room, name, parameter, old)
            self._decide(LearningDecision(
                room=room, parameter=name, action=LearningAction.ROLLBACK, old_value=probation["new"], new_value=old,
                reason=f"reward fell from {before:.2f} to {after:.2f} after the change",
                evidence={"reward_before": round(before, 3), "reward_after": round(after, 3),
                          "turns": len(probation["rewards"])}))
        else:
            parameter.rewards = list(probation["rewards"])

    def _set(self, room: str, name: str, parameter: Parameter, value: float) -> None:
        parameter.value = value
        parameter.turns_since_change = 0
        parameter.evidence = []
        parameter.rewards = []
        self.on_change(room, name, value)

    def _decide(self, decision: LearningDecision, *, quiet: bool = False) -> None:
        if not quiet:
            _LOGGER.info("learning: %s %s in the %s: %s -> %s (%s)", decision.action.value, decision.parameter,
                         decision.room, decision.old_value, decision.new_value, decision.reason)
        self.on_decision(decision)

    def _room(self, room: str) -> dict[str, Parameter]:
        params = self.rooms.get(room)
        if params is None:
            params = self.rooms[room] = {name: Parameter(spec.default) for name, spec in self.parameters.items()}
        return params
