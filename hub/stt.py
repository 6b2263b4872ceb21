"""Speech-to-text with faster-whisper, shared by every satellite.

The model is loaded once. Inference runs in worker threads so the event loop never blocks;
requests wait in per-satellite queues served round-robin, so one talkative room cannot starve
the others, and the total backlog is bounded (``SttBusyError`` beyond it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT

_LOGGER = logging.getLogger(__name__)


class SttError(RuntimeError):
    code = "stt_failed"


class SttBusyError(SttError):
    code = "stt_busy"


class SttInputError(SttError):
    code = "bad_audio"


@dataclass(frozen=True)
class Transcription:
    text: str
    audio_ms: float
    compute_ms: float


@dataclass
class _Request:
    pcm: bytes
    future: asyncio.Future[Transcription]


class SpeechToText:
    def __init__(self, model_dir: Path, *, threads: int = 2, workers: int = 1, max_pending: int = 32,
                 language: str | None = "en", beam_size: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.name = model_dir.name
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        self._language = language
        self._beam_size = beam_size
        self._max_pending = max_pending
        self._queues: dict[str, collections.deque[_Request]] = {}
        self._turns: collections.deque[str] = collections.deque()
        self._free_workers = workers
        self._running: set[asyncio.Task[None]] = set()

    @property
    def queue_depth(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def transcribe(self, pcm: bytes, satellite: str) -> Transcription:
        """Transcribe 16 kHz 16-bit mono PCM; fair across satellites."""
        if len(pcm) % MIC_FORMAT.width:
            raise SttInputError(f"audio length {len(pcm)} is not whole 16-bit samples")
        if len(pcm) > MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS:
            raise SttInputError(f"utterance longer than {MAX_TURN_AUDIO_SECONDS:.0f} s")
        if self.queue_depth >= self._max_pending:
            raise SttBusyError(f"speech recognition backlog full ({self._max_pending} utterances)")
        future: asyncio.Future[Transcription] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(satellite, collections.deque())
        queue.append(_Request(pcm, future))
        if satellite not in self._turns:
            self._turns.append(satellite)
        self._pump()
        try:
            return await future
        except asyncio.CancelledError:
            if not future.done():
                future.cancel()  # still queued: it will be skipped
            raise

    def _pump(self) -> None:
        while self._free_workers and self._turns:
            satellite = self._turns.popleft()
            queue = self._queues[satellite]
            request = queue.popleft()
            if queue:
                self._turns.append(satellite)  # round-robin: back of the line
            if request.future.done():
                continue
            self._free_workers -= 1
            task = asyncio.create_task(self._run(request), name=f"stt-{satellite}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, request: _Request) -> None:
        try:
            result = await asyncio.to_thread(self._infer, request.pcm)
            if not request.future.done():
                request.future.set_result(result)
        except Exception as err:  # reported to the caller, who owns the turn
            if not request.future.done():
                request.future.set_exception(SttError(f"speech recognition failed: {err}"))
        finally:
            self._free_workers += 1
            self._pump()

    def _infer(self, pcm: bytes) -> Transcription:
        started = time.perf_counter()
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        segments, _info = self._model.transcribe(
            audio, language=self._language, beam_size=self._beam_size, vad_filter=False,
            condition_on_previous_text=False, without_timestamps=True,
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcription(text, MIC_FORMAT.duration_ms(len(pcm)), 1000 * (time.perf_counter() - started))
