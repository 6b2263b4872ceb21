"""Feedback sounds, generated (no files to ship): short, soft, distinct."""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from protocol.audio import MIC_FORMAT


class Sound(StrEnum):
    WAKE = "wake"
    ERROR = "error"
    TIMER = "timer"


def _tone(freqs: list[tuple[float, float]], level: float = 0.25) -> bytes:
    parts = []
    for freq, seconds in freqs:
        t = np.arange(int(MIC_FORMAT.rate * seconds)) / MIC_FORMAT.rate
        envelope = np.minimum(1.0, np.minimum(t, t[::-1]) * 200)  # 5 ms fades: no clicks
        parts.append(np.sin(2 * np.pi * freq * t) * envelope if freq else np.zeros_like(t))
    samples = np.concatenate(parts) * level * 32767
    return samples.astype(np.int16).tobytes()


SOUNDS: dict[Sound, bytes] = {
    Sound.WAKE: _tone([(660, 0.07), (880, 0.09)]),
    Sound.ERROR: _tone([(220, 0.15), (0, 0.05), (220, 0.15)], 0.3),
    Sound.TIMER: _tone([(988, 0.12), (0, 0.08)] * 3),
}
