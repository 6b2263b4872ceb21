"""Wake word with openWakeWord's tflite models (shipped by wyoming-openwakeword), gated by VAD.

The models run in :mod:`satellite.dsp.oww` (tflite_runtime and numpy only, no ``openwakeword`` import).
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

import numpy as np

from common import models
from common.pcm import level_dbfs
from satellite.dsp.oww import WakeModel

_LOGGER = logging.getLogger(__name__)

PREROLL_BLOCKS = 16
"""1.3 s of audio kept while the gate is closed, fed to the model when speech starts."""
NEAR_MISS_FLOOR = 0.5
"""A burst peaking at this share of the threshold (but under it) is a near miss..."""
NEAR_MISS_WINDOW_S = 6.0
"""... and a hit this soon after it means the user had to say the wake word again."""
BURST_END = 0.05
"""Scores below this end a burst (one attempt at the wake word)."""


@dataclass(frozen=True)
class WakeHit:
    wake_word: str
    score: float
    level_dbfs: float
    t: float
    near_miss: float | None = None
    """Peak score of a failed attempt just before this one (the learning layer lowers the threshold)."""
    blocks_back: int = 0
    """How many blocks before the one just processed the model fired (the gate's preroll is scored at once)."""


class WakeDetector:
    def __init__(self, model: str, threshold: float, refractory_s: float, *, gated: bool = True,
                 phases: int = 1) -> None:
        path = models.wake_model_path(model)
        shared = models.openwakeword_dir()
        self.wake_word = path.stem.split("_v")[0] if path.parent == shared else path.stem
        self._model = WakeModel(path, shared / "melspectrogram.tflite", shared / "embedding_model.tflite",
                                phases=phases)
        self.threshold = threshold
        self.refractory_s = refractory_s
        self.gated = gated
        self._last_hit_t = -1e9
        self._preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_BLOCKS)
        self._open = False
        self._quiet_blocks = 0
        self._needs_reset = False
        self.blocks_scored = 0
        self.best_score = 0.0
        self._burst_peak = 0.0
        self._near_miss: tuple[float, float] | None = None  # (peak score, when)

    def process(self, block: bytes, t: float, speech: bool, *, gate: bool = True,
                threshold: float | None = None) -> WakeHit | None:
        """Score one 80 ms block; ``speech`` (from VAD) opens the gate, silence closes it after the preroll.

        ``t`` is when the block was captured; the hit's ``t`` is when the model fired. With
        ``gate=False`` every block is scored (during playback, where reaction time counts).
        """
        self._preroll.append(block)
        gated = self.gated and gate
        if gated and not speech and not self._open:
            return None
        if not self._open:
            self._open = True
            pending = list(self._preroll)  # the start of the wake word arrived before VAD was sure
        else:
            pending = [block]
        hit = None
        if self._needs_reset:
            self._needs_reset = False
            self._model.reset()
        for index, piece in enumerate(pending):
            score = self._score(piece)
            if score >= max(self.threshold, threshold or 0.0) and t - self._last_hit_t >= self.refractory_s and hit is None:
                self._last_hit_t = t
                near = self._near_miss
                hit = WakeHit(self.wake_word, round(score, 3), round(level_dbfs(b"".join(self._preroll)), 1),
                              time.monotonic(),
                              near_miss=round(near[0], 3) if near and t - near[1] <= NEAR_MISS_WINDOW_S else None,
                              blocks_back=len(pending) - 1 - index)
            elif score < BURST_END:
                self._end_burst(t)
            else:
                self._burst_peak = max(self._burst_peak, score)
        if hit is not None:
            self._needs_reset = True  # done on the next block: the caller acts on the hit first
            self._preroll.clear()
            self._open = False
            self._burst_peak, self._near_miss = 0.0, None
        elif gated and not speech:
            self._quiet_blocks += 1
            if self._quiet_blocks >= PREROLL_BLOCKS:
                self._open = False
                self._end_burst(t)
        if speech:
            self._quiet_blocks = 0
        return hit

    def _end_burst(self, t: float) -> None:
        if NEAR_MISS_FLOOR * self.threshold <= self._burst_peak < self.threshold:
            self._near_miss = (self._burst_peak, t)
        self._burst_peak = 0.0

    def _score(self, block: bytes) -> float:
        self.blocks_scored += 1
        score = self._model.predict(np.frombuffer(block, dtype=np.int16))
        self.best_score = max(self.best_score, score)
        return score

    def reset(self) -> None:
        self._model.reset()
        self._preroll.clear()
        self._open = False
