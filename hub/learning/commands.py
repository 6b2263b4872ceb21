"""The learning layer's commands: freeze, unfreeze, reset, roll back, enable or disable (per room and parameter)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from hub.learning.bandit import StyleBandit
from hub.learning.contract import ParameterSpec
from hub.learning.parameter import Parameter
from protocol.payloads import LearningAction, LearningDecision

STYLE = "style"
"""The response style: learned per room by the bandit, not a :class:`Parameter`."""


class LearningCommandError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LearnerCommands(abc.ABC):
    """The command half of :class:`hub.learning.learner.Learner`, which owns the state named here."""

    parameters: dict[str, ParameterSpec]
    rooms: dict[str, dict[str, Parameter]]
    preferences: dict[str, float]
    frozen_styles: set[str]
    enabled: bool
    bandit: StyleBandit
    on_change: Callable[[str, str, float], None]
    on_state: Callable[[dict[str, Any]], None]

    @abc.abstractmethod
    def state(self, *, waiting: bool = False) -> dict[str, Any]:
        """Kept by :class:`hub.learning.learner.Learner`, which owns the state."""

    @abc.abstractmethod
    def _room(self, room: str) -> dict[str, Parameter]:
        """Kept by :class:`hub.learning.learner.Learner`, which owns the state."""

    @abc.abstractmethod
    def _set(self, room: str, name: str, parameter: Parameter, value: float) -> None:
        """Kept by :class:`hub.learning.learner.Learner`, which owns the state."""

    @abc.abstractmethod
    def _decide(self, decision: LearningDecision, *, quiet: bool = False) -> None:
        """Kept by :class:`hub.learning.learner.Learner`, which owns the state."""

    def command(self, action: str, room: str | None = None, parameter: str | None = None) -> list[LearningDecision]:
        """freeze, unfreeze, reset, rollback, enable or disable; raises :class:`LearningCommandError`."""
        if parameter is not None and parameter not in self.parameters and parameter != STYLE:
            raise LearningCommandError("unknown_parameter", f"no learned parameter {parameter!r} "
                                       f"(known: {', '.join([*self.parameters, STYLE])})")
        if room is not None and room not in self.rooms:
            raise LearningCommandError("unknown_room", f"nothing learned for room {room!r} yet")
        decisions: list[LearningDecision] = []
        if action == "reset" and room is None and parameter is None:
            self.preferences.clear()
        if action in ("enable", "disable"):
            self.enabled = action == "enable"
            decisions.append(LearningDecision(room=None, parameter=None, action=LearningAction(action),
                                              reason=f"learning {action}d by command"))
        else:
            rooms = [room] if room is not None else sorted(self.rooms)
            for each in rooms:
                decisions.extend(self._command_room(action, each, parameter))
        for decision in decisions:
            self._decide(decision)
        self.on_state(self.state())
        return decisions

    def _command_room(self, action: str, room: str, parameter: str | None) -> list[LearningDecision]:
        params = self._room(room)
        names = [parameter] if parameter is not None and parameter != STYLE else list(params)
        touch_style = parameter is None or parameter == STYLE
        out: list[LearningDecision] = []
        if action in ("freeze", "unfreeze"):
            frozen = action == "freeze"
            for name in names if parameter != STYLE else []:
                params[name].frozen = frozen
            if touch_style:
                (self.frozen_styles.add if frozen else self.frozen_styles.discard)(room)
            out.append(LearningDecision(room=room, parameter=parameter, action=LearningAction(action),
                                        reason=f"{action} by command"))
        elif action == "reset":
            for name in names if parameter != STYLE else []:
                old = params[name].value
                default = self.parameters[name].default
                params[name] = Parameter(default, frozen=params[name].frozen)
                self.on_change(room, name, default)
                out.append(LearningDecision(room=room, parameter=name, action=LearningAction.RESET, old_value=old,
                                            new_value=default, reason="reset to the default by command"))
            if touch_style:
                self.bandit.reset(room)
                out.append(LearningDecision(room=room, parameter=STYLE, action=LearningAction.RESET,
                                            reason="style preferences forgotten by command"))
        elif action == "rollback":
            for name in names if parameter != STYLE else []:
                p = params[name]
                if not p.snapshots:
                    if parameter is not None:
                        raise LearningCommandError("nothing_to_roll_back", f"{name} in {room} has not changed")
                    continue
                old, previous = p.value, p.snapshots.pop()
                p.probation = None
                self._set(room, name, p, previous)
                out.append(LearningDecision(room=room, parameter=name, action=LearningAction.ROLLBACK,
                                            old_value=old, new_value=previous, reason="rolled back by command"))
        else:
            raise LearningCommandError("unknown_action", f"unknown learning action {action!r}")
        return out
