"""Text-to-speech with piper, streamed: the first chunk leaves as soon as piper has it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from common.errors import CodedError
from common.pcm import resample_pcm
from common.thread_stream import stream_from_thread
from hub.pipeline.ports import Synthesizer
from protocol.audio import TTS_CHUNK_SAMPLES, TTS_FORMAT, PcmFormat

__all__ = ["Synthesizer", "TextToSpeech", "TtsError", "resample_pcm"]


class TtsError(CodedError):
    """Speech synthesis failed (piper, or every Wyoming TTS server); what the turn reports as its error."""

    code = "tts_failed"


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
        chunk_bytes = TTS_CHUNK_SAMPLES * self.audio_format.width

        def chunks(stop: threading.Event) -> Iterator[bytes]:
            with self._lock:
                for piece in self._voice.synthesize(text, syn_config=config):
                    audio = piece.audio_int16_bytes
                    for start in range(0, len(audio), chunk_bytes):
                        yield audio[start:start + chunk_bytes]

        # Barge-in must not wait for piper to finish the sentence it is on (up to a second): the thread
        # stops at its next chunk and the voice lock keeps the next call out until then.
        async with contextlib.aclosing(stream_from_thread(chunks, wrap=_tts_error)) as audio:
            async for chunk in audio:
                yield chunk


def _tts_error(err: Exception) -> TtsError:
    return err if isinstance(err, TtsError) else TtsError(f"speech synthesis failed: {err}")
