"""16-bit PCM helpers both sides use: resampling, levels, gain."""

from __future__ import annotations

import functools
import math

import numpy as np

RESAMPLE_HALF_TAPS = 10
"""Filter half length, in input (or output) periods of the slower rate, as scipy's resample_poly uses."""
RESAMPLE_KAISER_BETA = 5.0
_RESAMPLE_CHUNK = 8192
"""Output samples computed at once (bounds the gathered input matrix to a few MB)."""


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """16-bit mono PCM from one rate to another: polyphase windowed-sinc, numpy only.

    The same filter and alignment as ``scipy.signal.resample_poly`` (Kaiser window, beta 5, 10 periods each
    side, zero phase), so the output matches it; the satellite runs without importing scipy.
    """
    if from_rate == to_rate or not pcm:
        return pcm
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    out = _polyphase(samples, up, down)
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


@functools.lru_cache(maxsize=16)
def _polyphase_bank(up: int, down: int) -> tuple[np.ndarray, int]:
    """The low-pass filter (cut-off at the lower Nyquist, gain ``up``) as ``up`` phases of ``taps`` each."""
    wider = max(up, down)
    half = RESAMPLE_HALF_TAPS * wider
    n = np.arange(-half, half + 1, dtype=np.float64)
    cutoff = 1.0 / wider  # of the upsampled Nyquist
    h = cutoff * np.sinc(cutoff * n) * np.kaiser(2 * half + 1, RESAMPLE_KAISER_BETA)
    h *= up / h.sum()
    taps = -(-h.size // up)
    padded = np.zeros(taps * up)
    padded[:h.size] = h
    return padded.reshape(taps, up).T.copy(), half  # bank[phase, k] = h[phase + k * up]


def _polyphase(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """y[n] = sum_j x[j] * h[n * down + half - j * up]: upsample by ``up``, filter, keep every ``down``-th."""
    bank, half = _polyphase_bank(up, down)
    taps = bank.shape[1]
    n_out = -(-x.size * up // down)
    # x[j0 - k] for k < taps reaches ``taps - 1`` before the start and ``half // up + 1`` past the end.
    lead = taps
    padded = np.concatenate((np.zeros(lead), x, np.zeros(half // up + 2)))
    k = np.arange(taps)
    out = np.empty(n_out)
    for start in range(0, n_out, _RESAMPLE_CHUNK):
        t = np.arange(start, min(start + _RESAMPLE_CHUNK, n_out), dtype=np.int64) * down + half
        j0, phase = np.divmod(t, up)
        gathered = padded[(j0 + lead)[:, None] - k[None, :]]
        out[start:start + t.size] = np.einsum("ij,ij->i", gathered, bank[phase])
    return out


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
