"""Room arbitration: one utterance heard by several satellites is answered by one.

The first wake opens a short window; every wake in it is a candidate; at the end the best
(score, signal level, learned room preference) wins and the others are dismissed. A house
with one connected satellite skips the window, so it costs nothing there. Audio keeps
buffering during the window, so the winner loses no speech and no time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from protocol.payloads import ArbitrationCandidate, ArbitrationDecision

LEVEL_WEIGHT = 0.02
"""Rank points per dB: 10 dB louder outweighs 0.2 of wake score."""


@dataclass(frozen=True)
class WakeClaim:
    satellite: str
    score: float
    level_dbfs: float


class Arbiter:
    def __init__(self, window_ms: int, *, preference: Callable[[str], float] = lambda satellite: 0.0,
                 publish: Callable[[ArbitrationDecision], None] = lambda decision: None,
                 contenders: Callable[[], int] = lambda: 2) -> None:
        self.window_ms = window_ms
        self._preference = preference
        self._publish = publish
        self._contenders = contenders
        self._claims: list[WakeClaim] = []
        self._decided: asyncio.Future[str] | None = None

    def rank(self, claim: WakeClaim) -> float:
        level = max(-90.0, min(0.0, claim.level_dbfs))
        return claim.score + LEVEL_WEIGHT * (level + 90.0) + self._preference(claim.satellite)

    async def claim(self, claim: WakeClaim) -> bool:
        """Wait for the window to close; True if ``claim`` won it."""
        if self.window_ms <= 0 or self._contenders() <= 1:
            return True
        if self._decided is None:
            self._decided = asyncio.get_running_loop().create_future()
            self._claims = []
            asyncio.get_running_loop().call_later(self.window_ms / 1000, self._decide)
        decided = self._decided
        self._claims.append(claim)
        return await asyncio.shield(decided) == claim.satellite

    def _decide(self) -> None:
        claims, decided = self._claims, self._decided
        self._claims, self._decided = [], None
        if decided is None or not claims:
            return
        winner = max(claims, key=self.rank)
        decided.set_result(winner.satellite)
        if len(claims) > 1:
            self._publish(ArbitrationDecision(
                window_ms=float(self.window_ms), winner=winner.satellite,
                candidates=[ArbitrationCandidate(satellite=c.satellite, score=c.score, level_dbfs=c.level_dbfs,
                                                 preference=self._preference(c.satellite), rank=self.rank(c))
                            for c in claims],
            ))
