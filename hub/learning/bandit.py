"""Response style as a contextual bandit: Thompson sampling over brief, normal and detailed.

The context is the room and the part of the day. Each (context, style) keeps a Beta
posterior; a turn's reward comes from what the person did next (follow-up: 1, interrupted
or corrected: 0, neither: ``NEUTRAL``). The random draws are seeded from the context and
its turn count, so a replay of the same events picks the same styles.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from hub.learning.signals import TurnSignals

STYLES = ("brief", "normal", "detailed")
NEUTRAL = 0.6
"""Reward of an answer nobody followed up, interrupted or corrected: fine, not great."""


def day_part(wall: float) -> str:
    hour = time.localtime(wall).tm_hour
    if 5 <= hour < 11:
        return "morning"
    if 11 <= hour < 17:
        return "day"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def style_reward(signals: TurnSignals) -> float:
    if signals.interrupted or signals.corrected:
        return 0.0
    return 1.0 if signals.follow_up else NEUTRAL


@dataclass(frozen=True)
class StyleChoice:
    context: str
    style: str
    means: dict[str, float]


class StyleBandit:
    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.posteriors: dict[str, dict[str, list[float]]] = state.get("posteriors", {})
        self.draws: dict[str, int] = state.get("draws", {})

    def state(self) -> dict[str, Any]:
        return {"posteriors": self.posteriors, "draws": self.draws}

    def choose(self, room: str, wall: float) -> StyleChoice:
        context = f"{room}|{day_part(wall)}"
        table = self._table(context)
        n = self.draws.get(context, 0)
        self.draws[context] = n + 1
        rng = random.Random(f"{context}|{n}")
        samples = {style: rng.betavariate(a, b) for style, (a, b) in table.items()}
        best = max(STYLES, key=lambda s: samples[s])
        return StyleChoice(context, best, {s: round(a / (a + b), 3) for s, (a, b) in table.items()})

    def update(self, room: str, wall: float, style: str, reward: float) -> None:
        if style not in STYLES:
            return
        a, b = self._table(f"{room}|{day_part(wall)}")[style]
        self._table(f"{room}|{day_part(wall)}")[style] = [a + reward, b + 1.0 - reward]

    def reset(self, room: str | None) -> None:
        for context in [c for c in self.posteriors if room is None or c.split("|")[0] == room]:
            del self.posteriors[context]
            self.draws.pop(context, None)

    def _table(self, context: str) -> dict[str, list[float]]:
        return self.posteriors.setdefault(context, {style: [1.0, 1.0] for style in STYLES})
