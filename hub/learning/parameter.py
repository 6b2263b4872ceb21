"""One learned parameter in one room, and how it is kept in the learning state (JSON)."""

from __future__ import annotations

import dataclasses
from typing import Any

from hub.learning.signals import TurnSignals


@dataclasses.dataclass
class Parameter:
    """One parameter in one room (mutable: the learner owns it alone)."""

    value: float
    turns_since_change: int = 1_000_000
    evidence: list[TurnSignals] = dataclasses.field(default_factory=list)
    rewards: list[float] = dataclasses.field(default_factory=list)
    probation: dict[str, Any] | None = None
    """{old, new, before, rewards} while a change is being judged."""
    snapshots: list[float] = dataclasses.field(default_factory=list)
    """Values before each change, newest last (for rollbacks)."""
    frozen: bool = False

    def to_json(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        raw["evidence"] = [dataclasses.asdict(s) for s in self.evidence]
        return raw

    @staticmethod
    def from_json(raw: dict[str, Any]) -> Parameter:
        fields = dict(raw)
        fields["evidence"] = [TurnSignals(**s) for s in raw.get("evidence", [])]
        return Parameter(**fields)
