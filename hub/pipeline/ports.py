"""The three model ports a turn talks to: speech recognition, the language model, speech synthesis.

A turn (and the Wyoming service the hub offers Home Assistant) knows its models only by these shapes.
Each has local adapters (:class:`hub.pipeline.stt.SpeechToText`, :mod:`hub.llm` backends,
:class:`hub.pipeline.tts.TextToSpeech`), pools of servers elsewhere (:mod:`hub.remote`) and small
deterministic in-process fakes (``testbed/fakes.py``) that let the rest of the hub be tested in
milliseconds. Nothing here imports a model library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from hub.llm.base import LanguageModel, LlmRequest
from protocol.audio import PcmFormat

__all__ = ["LanguageModel", "LlmRequest", "Recognizer", "Synthesizer", "Transcription"]


@dataclass(frozen=True)
class Transcription:
    text: str
    audio_ms: float
    compute_ms: float
    avg_logprob: float = 0.0
    """Mean log-probability per decoded token (0: certain; below about -1: a guess)."""
    no_speech_prob: float = 0.0
    """The decoder's probability that the audio holds no speech."""
    compression_ratio: float = 0.0
    """Text length / its zlib-compressed length; above about 2.4 the decoder was looping."""
    dropped_text: str = ""
    """Text whisper decoded but its no-speech rule threw away (kept for reports)."""
    temperature: float = 0.0
    """Highest sampling temperature a kept decoding needed (above 0 only with ``temperature_fallback``)."""


class Recognizer(Protocol):
    """What turns need from speech recognition: :class:`~hub.pipeline.stt.SpeechToText` here, or a pool of
    Wyoming servers elsewhere (:class:`hub.remote.wyoming_stt.RemoteSpeechToText`).

    ``transcribe`` takes 16 kHz 16-bit mono PCM (``protocol.audio.MIC_FORMAT``), is fair across satellites,
    and raises :class:`~hub.pipeline.stt.SttError` (with a stable ``code``) when it cannot answer."""

    vocabulary: tuple[str, ...]
    """The home's words (wake word, devices, areas) given to every utterance; home control may replace it."""

    @property
    def name(self) -> str: ...

    @property
    def queue_depth(self) -> int:
        """Utterances waiting for the recogniser (on /metrics)."""
        ...

    async def transcribe(self, pcm: bytes, satellite: str, *, vocabulary: Sequence[str] = ()) -> Transcription: ...


class Synthesizer(Protocol):
    """What turns need from speech synthesis: :class:`~hub.pipeline.tts.TextToSpeech` here, or a pool of
    Wyoming servers elsewhere (:class:`hub.remote.wyoming_tts.RemoteTextToSpeech`). Every chunk is in
    ``audio_format``; closing the iterator stops synthesis (barge-in)."""

    audio_format: PcmFormat

    @property
    def name(self) -> str: ...

    def synthesize(self, text: str, *, deterministic: bool = False) -> AsyncIterator[bytes]: ...
