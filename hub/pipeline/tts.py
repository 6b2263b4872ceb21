"""Text-to-speech with piper, streamed: the first chunk leaves as soon as piper has it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from common.pcm import resample_pcm
from hub.pipeline.ports import Synthesizer
from protocol.audio import TTS_CHUNK_SAMPLES, TTS_FORMAT, PcmFormat

__all__ = ["Synthesizer", "TextToSpeech", "resample_pcm"]

_LOGGER = logging.getLogger(__name__)
_END = object()


class TextToSpeech:
    def __init__(self, onnx_path: Path) -> None:
        from piper import PiperVoice

        self.name = onnx_path.stem
        self._voice = PiperVoice.load(str(onnx_path))
        rate = int(self._voice.config.sample_rate)
        self.audio_format = PcmFormat(rate=rate, width=TTS_FORMAT.width, channels=TTS_FORMAT.channels)
        self._lock = threading.Lock()  # piper's session is not re-entrant

    async def synthesize(self, text: str, *, deterministic: bool = False) -> AsyncIterator[bytes]:
        """Yield PCM chunks of ``TTS_CHUNK_SAMPLES`` samples; closing the iterator stops synthesis.

        ``deterministic`` turns piper's sampling noise off, so the same text always gives the same
        audio (test fixtures need that: with noise, the pause before a sentence varies 40-430 ms).
        """
        from piper import SynthesisConfig

        config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if deterministic else None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=64)
        stop = threading.Event()

        def put(item: object) -> bool:
            """Hand one item to the consumer, waiting while its queue is full; False once it has left."""
            try:
                pending = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
            except RuntimeError:  # the loop is gone
                return False
            while True:
                try:
                    pending.result(timeout=0.1)
                    return True
                except concurrent.futures.TimeoutError:
                    if stop.is_set():
                        pending.cancel()
                        return False
                except (concurrent.futures.CancelledError, RuntimeError):
                    return False

        def produce() -> None:
            chunk_bytes = TTS_CHUNK_SAMPLES * self.audio_format.width
            try:
                with self._lock:
                    for piece in self._voice.synthesize(text, syn_config=config):
                        audio = piece.audio_int16_bytes
                        for start in range(0, len(audio), chunk_bytes):
                            if stop.is_set() or not put(audio[start:start + chunk_bytes]):
                                return
            except Exception as err:  # handed to the consumer, which owns the turn
                put(err)
            finally:
                if not stop.is_set():
                    put(_END)

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise RuntimeError(f"speech synthesis failed: {item}") from item
                assert isinstance(item, bytes)
                yield item
        finally:
            # Barge-in must not wait for piper to finish the sentence it is on (up to a second):
            # the thread stops at its next chunk and the voice lock keeps the next call out until then.
            stop.set()
            worker.add_done_callback(_ignore_result)


def _ignore_result(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _LOGGER.debug("piper worker ended with %r after its consumer left", future.exception())
