"""openWakeWord's streaming pipeline on the three shipped .tflite files, with tflite_runtime and numpy only.

Importing ``openwakeword.model`` pulls scipy, scikit-learn and onnxruntime (about 160 MB of RSS on the
satellite) to run three small tflite models. This module runs the same three stages itself:

1. melspectrogram.tflite: each 80 ms chunk (1280 samples, 16 kHz) plus the 480 samples before it gives
   8 frames of 32 mel bands (5 for the first chunk after a reset, which has no history), scaled by
   ``x / 10 + 2`` as openWakeWord does.
2. embedding_model.tflite: the last 76 mel frames give one 96-value embedding per chunk.
3. the wake model (``hey_jarvis_v0.1.tflite`` or a custom one): the last N embeddings (N from the model's
   input shape, 16 for the shipped ones) give the score.

The starting state matches ``openwakeword.Model`` so the scores do too (tests/test_wake_pipeline.py
compares them): the mel history starts as ones, the embedding history as the embeddings of 4 s of
uniform noise (seeded here, so runs repeat), and the first five scores after a reset are 0.

``phases`` > 1 scores the audio at several offsets inside the 80 ms chunk (4 phases: every 20 ms, each
with its own embedding history, all from the same mel frames) and reports the best. The model's score
depends on where the 80 ms grid falls in the phrase: on continuous streams a voice that scores 0.9 at
one offset scores 0.4 at another (bench/hearing.py: in pink noise at 10 dB SNR 24 of 48 wake phrases
heard with one phase, 34 with four). Each phase costs one more embedding and wake-model run.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

CHUNK_SAMPLES = 1280
"""80 ms at 16 kHz: one embedding, one score."""
MEL_CONTEXT_SAMPLES = 480
"""Samples before the chunk fed to the mel model with it (3 mel hops), so frames line up across chunks."""
MEL_BANDS = 32
EMBEDDING_WINDOW = 76
"""Mel frames per embedding."""
MELS_PER_CHUNK = 8
"""Mel frames per 80 ms chunk (10 ms hop)."""
PHASES = (1, 2, 4, 8)
"""Allowed numbers of offsets per chunk (they must divide its 8 mel frames)."""
WARMUP_SCORES = 5
"""Scores reported as 0 after a reset (openWakeWord does the same)."""
_NOISE_SEED = 0


def _interpreter(path: Path) -> Any:
    import tflite_runtime.interpreter as tflite

    return tflite.Interpreter(model_path=str(path), num_threads=1)


class _Stage:
    """One tflite model with a single input and output; resizes its input when the shape changes."""

    def __init__(self, path: Path, shape: tuple[int, ...] | None = None) -> None:
        self._interp = _interpreter(path)
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] | None = None
        if shape is None:
            self._interp.allocate_tensors()
            self._shape = tuple(int(d) for d in self._interp.get_input_details()[0]["shape"])
        else:
            self._resize(shape)

    @property
    def input_shape(self) -> tuple[int, ...]:
        assert self._shape is not None
        return self._shape

    def _resize(self, shape: tuple[int, ...]) -> None:
        self._interp.resize_tensor_input(self._in, list(shape), strict=True)
        self._interp.allocate_tensors()
        self._shape = shape

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self._shape:
            self._resize(x.shape)
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._out)


class WakeModel:
    """Streaming wake word scores for 16 kHz 16-bit mono audio, one per 80 ms chunk."""

    def __init__(self, wake_model: Path, melspec_model: Path, embedding_model: Path, *, phases: int = 1) -> None:
        if phases not in PHASES:
            raise ValueError(f"phases must be one of {PHASES}, not {phases}")
        self.phases = phases
        self._hop = MELS_PER_CHUNK // phases
        self._mel_history = EMBEDDING_WINDOW + MELS_PER_CHUNK - self._hop
        self._mel = _Stage(melspec_model, (1, CHUNK_SAMPLES + MEL_CONTEXT_SAMPLES))
        self._embed = _Stage(embedding_model, (1, EMBEDDING_WINDOW, MEL_BANDS, 1))
        self._wake = _Stage(wake_model)
        self.embeddings_needed = self._wake.input_shape[1]
        self._initial_embeddings = self._noise_embeddings()
        self._tail = np.empty(0, dtype=np.float32)  # the samples just before the next chunk
        self._pending = np.empty(0, dtype=np.int16)  # under a chunk, waiting for more
        self._mels = np.ones((self._mel_history, MEL_BANDS), dtype=np.float32)
        self._embeddings = [deque[np.ndarray](maxlen=self.embeddings_needed) for _ in range(phases)]
        self._scored = 0
        self._last = 0.0
        self.reset()

    def _melspectrogram(self, samples: np.ndarray) -> np.ndarray:
        spec = np.squeeze(self._mel(samples.astype(np.float32)[None, :]))
        return (spec / 10 + 2).astype(np.float32)

    def _embedding(self, mels: np.ndarray) -> np.ndarray:
        return np.asarray(self._embed(mels[None, :, :, None]), dtype=np.float32).reshape(-1)

    def _noise_embeddings(self) -> list[np.ndarray]:
        """The last embeddings of 4 s of noise: openWakeWord's starting history (it uses unseeded noise)."""
        noise = np.random.default_rng(_NOISE_SEED).integers(-1000, 1000, 16000 * 4).astype(np.int16)
        spec = self._melspectrogram(noise)
        starts = [i for i in range(0, spec.shape[0], 8) if i + EMBEDDING_WINDOW <= spec.shape[0]]
        return [self._embedding(spec[i:i + EMBEDDING_WINDOW]) for i in starts[-self.embeddings_needed:]]

    def reset(self) -> None:
        """Forget the audio so far, as after a fresh start."""
        self._tail = np.empty(0, dtype=np.float32)
        self._pending = np.empty(0, dtype=np.int16)
        self._mels = np.ones((self._mel_history, MEL_BANDS), dtype=np.float32)
        for history in self._embeddings:
            history.clear()
            history.extend(self._initial_embeddings)
        self._scored = 0
        self._last = 0.0

    def predict(self, samples: np.ndarray) -> float:
        """Score new audio (int16 samples); with several chunks the highest score, with none the last one."""
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % CHUNK_SAMPLES
        self._pending = samples[whole:].copy()
        if whole == 0:
            return self._last
        best = 0.0
        for start in range(0, whole, CHUNK_SAMPLES):
            best = max(best, self._chunk(samples[start:start + CHUNK_SAMPLES]))
        return best

    def _chunk(self, chunk: np.ndarray) -> float:
        audio = np.concatenate((self._tail, chunk.astype(np.float32)))
        self._tail = audio[-MEL_CONTEXT_SAMPLES:]
        self._mels = np.vstack((self._mels, self._melspectrogram(audio)))[-self._mel_history:]
        score = 0.0
        for phase, history in enumerate(self._embeddings):
            end = self._mels.shape[0] - phase * self._hop
            history.append(self._embedding(self._mels[end - EMBEDDING_WINDOW:end]))
            features = np.stack(history)[None, :, :]
            score = max(score, float(np.asarray(self._wake(features)).reshape(-1)[0]))
        self._scored += 1
        if self._scored <= WARMUP_SCORES:
            score = 0.0
        self._last = score
        return score
