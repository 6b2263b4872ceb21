"""16-bit PCM helpers both sides use: resampling, levels, gain."""

from __future__ import annotations

import math

import numpy as np


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """16-bit mono PCM from one rate to another (polyphase, good enough for speech)."""
    if from_rate == to_rate or not pcm:
        return pcm
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(from_rate, to_rate)
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    out = resample_poly(samples, to_rate // g, from_rate // g)
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


def level_dbfs(pcm: bytes) -> float:
    """RMS level of 16-bit PCM in dBFS (-120 for silence)."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    return max(-120.0, 20 * math.log10(rms / 32768.0)) if rms > 0 else -120.0


def apply_gain(pcm: bytes, factor: float) -> bytes:
    if factor == 1.0:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) * factor
    return np.clip(samples, -32768, 32767).astype(np.int16).tobytes()
