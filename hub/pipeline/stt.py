"""Speech-to-text with faster-whisper, shared by every satellite.

Tuned for short spoken commands: decoding is deterministic (temperature 0, no fallback: the
fallback's sampling made the same clip read differently from run to run), the home's vocabulary
(wake word, device names, areas) can be given to whisper as ``hotwords``, and the decoder's own
confidence (mean token log-probability, no-speech probability, compression ratio) stays with the
transcript so the hub can ask again instead of acting on a guess.

The model is loaded once. Inference runs in worker threads so the event loop never blocks;
requests wait in per-satellite queues served round-robin, so one talkative room cannot starve
the others, and the total backlog is bounded (``SttBusyError`` beyond it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from common.errors import CodedError
from hub.pipeline.ports import Recognizer, Transcription
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT

__all__ = ["Recognizer", "SpeechToText", "SttBusyError", "SttError", "SttInputError", "Transcription"]

_LOGGER = logging.getLogger(__name__)


class SttError(CodedError):
    """Speech recognition failed; ``code`` says how (reported on the turn and in Wyoming ``error`` events)."""

    code = "stt_failed"


class SttBusyError(SttError):
    code = "stt_busy"


class SttInputError(SttError):
    code = "bad_audio"


NO_SPEECH_PROB = 0.6
LOG_PROB_FLOOR = -1.0
"""Whisper's own rule: a window with no-speech probability above 0.6 whose text scores under -1 holds no
speech; its text (a hallucination such as "Thank you.") is dropped, its numbers are kept."""

PromptStyle = Literal["hotwords", "prompt", "off"]


@dataclass
class _Request:
    pcm: bytes
    future: asyncio.Future[Transcription]
    vocabulary: tuple[str, ...]


class SpeechToText:
    def __init__(self, model_dir: Path, *, threads: int = 2, workers: int = 1, max_pending: int = 32,
                 language: str | None = "en", beam_size: int = 1, vocabulary: Sequence[str] = (),
                 prompt_style: PromptStyle = "hotwords", temperature_fallback: bool = False) -> None:
        from faster_whisper import WhisperModel

        self.name = model_dir.name
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        self._language = language
        self._beam_size = beam_size
        self.vocabulary: tuple[str, ...] = tuple(vocabulary)
        """The home's words (wake word, devices, areas); the home-control code may replace it at any time."""
        self.prompt_style = prompt_style
        self._temperature: float | tuple[float, ...] = (
            (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if temperature_fallback else 0.0)  # the tuple is faster-whisper's default
        self._max_pending = max_pending
        self._queues: dict[str, collections.deque[_Request]] = {}
        self._turns: collections.deque[str] = collections.deque()
        self._free_workers = workers
        self._running: set[asyncio.Task[None]] = set()

    @property
    def queue_depth(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def transcribe(self, pcm: bytes, satellite: str, *, vocabulary: Sequence[str] = ()) -> Transcription:
        """Transcribe 16 kHz 16-bit mono PCM; fair across satellites.

        ``vocabulary``: words for this utterance on top of :attr:`vocabulary` (e.g. the wake phrase that opened it).
        """
        if len(pcm) % MIC_FORMAT.width:
            raise SttInputError(f"audio length {len(pcm)} is not whole 16-bit samples")
        if len(pcm) > MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS:
            raise SttInputError(f"utterance longer than {MAX_TURN_AUDIO_SECONDS:.0f} s")
        if self.queue_depth >= self._max_pending:
            raise SttBusyError(f"speech recognition backlog full ({self._max_pending} utterances)")
        future: asyncio.Future[Transcription] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(satellite, collections.deque())
        # The utterance's own words (the wake phrase) go last: whisper heeds the end of its prompt most.
        words = tuple(reversed(dict.fromkeys(w.strip() for w in reversed((*self.vocabulary, *vocabulary))
                                             if w.strip())))
        queue.append(_Request(pcm, future, words))
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
            result = await asyncio.to_thread(self._infer, request.pcm, request.vocabulary)
            if not request.future.done():
                request.future.set_result(result)
        except Exception as err:  # reported to the caller, who owns the turn
            if not request.future.done():
                request.future.set_exception(SttError(f"speech recognition failed: {err}"))
        finally:
            self._free_workers += 1
            self._pump()

    def _infer(self, pcm: bytes, vocabulary: tuple[str, ...] = ()) -> Transcription:
        started = time.perf_counter()
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        hint = ", ".join(vocabulary) if vocabulary and self.prompt_style != "off" else None
        segments, _info = self._model.transcribe(
            audio, language=self._language, beam_size=self._beam_size, vad_filter=False,
            condition_on_previous_text=False, without_timestamps=True, temperature=self._temperature,
            # No segment is dropped inside faster-whisper: the rule is applied below so its numbers survive.
            no_speech_threshold=None,
            hotwords=hint if self.prompt_style == "hotwords" else None,
            initial_prompt=hint if self.prompt_style == "prompt" else None,
        )
        kept: list[str] = []
        dropped: list[str] = []
        tokens = 0
        logprob_sum = no_speech = ratio = temperature = 0.0
        for segment in segments:
            silent = segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOG_PROB_FLOOR
            (dropped if silent else kept).append(segment.text.strip())
            count = max(1, len(segment.tokens))
            tokens += count
            logprob_sum += segment.avg_logprob * count
            no_speech = max(no_speech, segment.no_speech_prob)
            ratio = max(ratio, segment.compression_ratio)
            temperature = max(temperature, segment.temperature or 0.0)
        return Transcription(
            " ".join(kept).strip(), MIC_FORMAT.duration_ms(len(pcm)), 1000 * (time.perf_counter() - started),
            avg_logprob=logprob_sum / tokens if tokens else 0.0, no_speech_prob=no_speech, compression_ratio=ratio,
            dropped_text=" ".join(dropped).strip(), temperature=temperature,
        )
