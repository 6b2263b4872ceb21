"""Test audio: piper-synthesised speech at the microphone format, levels and noise."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from hub.pipeline.ports import Synthesizer
from hub.pipeline.tts import resample_pcm
from protocol.audio import MIC_FORMAT


class SpeechMaker:
    def __init__(self, tts: Synthesizer) -> None:
        self._tts = tts
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, text: str) -> bytes:
        with self._lock:
            if text not in self._cache:
                self._cache[text] = _run(self._render(text))
            return self._cache[text]

    async def _render(self, text: str) -> bytes:
        # Deterministic: piper's noise otherwise moves the pauses around from one test run to the next.
        chunks = [chunk async for chunk in self._tts.synthesize(text, deterministic=True)]
        return resample_pcm(b"".join(chunks), self._tts.audio_format.rate, MIC_FORMAT.rate)


def _run(coro):  # works inside and outside a running loop
    result: list[bytes] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro)))
    thread.start()
    thread.join()
    return result[0]


def silence(seconds: float) -> bytes:
    return bytes(int(MIC_FORMAT.bytes_per_second * seconds))


def scale(pcm: bytes, gain_db: float) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) * (10 ** (gain_db / 20))
    return np.clip(samples, -32768, 32767).astype(np.int16).tobytes()


def mix(a: bytes, b: bytes) -> bytes:
    """Sum two PCM streams (the shorter padded with silence)."""
    x = np.frombuffer(a, dtype=np.int16).astype(np.int32)
    y = np.frombuffer(b, dtype=np.int16).astype(np.int32)
    n = max(len(x), len(y))
    x, y = np.pad(x, (0, n - len(x))), np.pad(y, (0, n - len(y)))
    return np.clip(x + y, -32768, 32767).astype(np.int16).tobytes()


def noise(seconds: float, level_dbfs: float, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    amplitude = 32768 * 10 ** (level_dbfs / 20)
    samples = rng.normal(0, amplitude, int(MIC_FORMAT.rate * seconds))
    return np.clip(samples, -32768, 32767).astype(np.int16).tobytes()
