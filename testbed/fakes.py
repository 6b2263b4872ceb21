"""Small deterministic in-process stand-ins for the hub's three MODELS, and nothing else.

They satisfy the ports in :mod:`hub.pipeline.ports`, so the real hub (event bus, sessions, turns, the state
machine, the learner, the Wyoming links over real sockets) runs on them in milliseconds instead of loading
whisper, gemma and piper:

- :class:`ScriptedSpeechToText` hears the clips a test taught it. It is fed the turn's real PCM and finds the
  taught clip that audio starts with; a prefix of a clip (the hub's speculative transcript during the silence
  window, or listening that ended mid-sentence) is heard as the words of the parts it covers, so cutting a
  sentence off at a pause loses exactly the words after the pause, as with a real recogniser.
- :class:`ScriptedLanguageModel` streams a scripted answer word by word, optionally with a delay per piece so
  a barge-in can land mid-answer, and records every request and whether its stream was stopped early.
- :class:`SilentSpeech` "speaks" silence whose length is proportional to the text (about a real voice's pace).

Each fails the way the real one does for bad input (:class:`~hub.pipeline.stt.SttInputError`,
:class:`~hub.llm.base.LlmError`), so error paths can be tested too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from hub.llm.base import LlmError, LlmRequest, context_line
from hub.loaded_models import Models
from hub.pipeline.ports import Transcription
from hub.pipeline.stt import SttInputError
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT, TTS_CHUNK_SAMPLES, TTS_FORMAT, PcmFormat
from protocol.payloads import ModelStatus

_LOGGER = logging.getLogger(__name__)

MIN_MATCH_S = 0.1
"""Audio shorter than this matches no taught clip: too little to tell clips apart."""


@dataclass(frozen=True)
class _Part:
    pcm: bytes
    text: str


@dataclass(frozen=True)
class _Clip:
    parts: tuple[_Part, ...]
    avg_logprob: float
    no_speech_prob: float

    @property
    def pcm(self) -> bytes:
        return b"".join(p.pcm for p in self.parts)

    def heard(self, length: int) -> str:
        """The words of the first ``length`` bytes: whole parts, then a share of the part cut into."""
        words: list[str] = []
        offset = 0
        for part in self.parts:
            part_words = part.text.split()
            if offset + len(part.pcm) <= length:
                words += part_words
            else:
                share = max(0, length - offset) / max(1, len(part.pcm))
                words += part_words[:int(share * len(part_words))]
                break
            offset += len(part.pcm)
        return " ".join(words)


class ScriptedSpeechToText:
    """A recogniser that hears the clips it was taught (:meth:`teach`), from the audio the turn really got."""

    name = "scripted-stt"

    def __init__(self, *, compute_s: float = 0.0) -> None:
        self.vocabulary: tuple[str, ...] = ()
        self.compute_s = compute_s
        """Seconds each transcription takes (awaited, not blocking), like a model's inference time."""
        self.calls: list[tuple[str, float, str]] = []
        """(satellite, audio ms, text heard) per call, in order."""
        self._clips: list[_Clip] = []
        self._pending = 0

    def teach(self, *parts: tuple[bytes, str], avg_logprob: float = -0.2, no_speech_prob: float = 0.01) -> bytes:
        """Remember a clip made of (pcm, words) parts; returns the whole clip's PCM to be said.

        ``avg_logprob`` and ``no_speech_prob`` are the confidence the recogniser will report for it (whisper's
        numbers: below about -1 is a guess, above 0.5 nobody spoke)."""
        clip = _Clip(tuple(_Part(pcm, text) for pcm, text in parts), avg_logprob, no_speech_prob)
        if len(clip.pcm) < MIC_FORMAT.bytes_per_second * MIN_MATCH_S:
            raise ValueError(f"a taught clip needs at least {MIN_MATCH_S} s of audio")
        self._clips.append(clip)
        return clip.pcm

    @property
    def queue_depth(self) -> int:
        return self._pending

    async def transcribe(self, pcm: bytes, satellite: str, *, vocabulary: Sequence[str] = ()) -> Transcription:
        if len(pcm) % MIC_FORMAT.width:
            raise SttInputError(f"audio length {len(pcm)} is not whole 16-bit samples")
        if len(pcm) > MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS:
            raise SttInputError(f"utterance longer than {MAX_TURN_AUDIO_SECONDS:.0f} s")
        self._pending += 1
        try:
            if self.compute_s:
                await asyncio.sleep(self.compute_s)
        finally:
            self._pending -= 1
        clip, length = self._find(pcm)
        audio_ms = MIC_FORMAT.duration_ms(len(pcm))
        if clip is None:
            _LOGGER.info("%s: %.0f ms of audio matches no taught clip: heard as no speech", satellite, audio_ms)
            result = Transcription("", audio_ms, 1000 * self.compute_s, avg_logprob=-1.5, no_speech_prob=0.95)
        else:
            result = Transcription(clip.heard(length), audio_ms, 1000 * self.compute_s,
                                   avg_logprob=clip.avg_logprob, no_speech_prob=clip.no_speech_prob)
        self.calls.append((satellite, audio_ms, result.text))
        return result

    def _find(self, pcm: bytes) -> tuple[_Clip | None, int]:
        """The taught clip sharing the longest start with ``pcm``, and how many bytes of it were heard."""
        best: tuple[_Clip | None, int] = (None, 0)
        for clip in self._clips:
            whole = clip.pcm
            n = min(len(whole), len(pcm))
            if pcm[:n] == whole[:n] and n > best[1]:
                best = (clip, n)
        if best[1] < MIC_FORMAT.bytes_per_second * MIN_MATCH_S:
            return None, 0
        return best


@dataclass
class StreamRecord:
    """One answer the fake model was asked for."""

    request: LlmRequest
    answer: str
    pieces_sent: int = 0
    finished: bool = False
    """Every piece was taken; False with pieces left means the consumer stopped it (barge-in)."""


@dataclass
class ScriptedLanguageModel:
    """Answers by the user's words: ``answers`` maps a question (case and punctuation ignored) to its answer."""

    answers: Mapping[str, str] = field(default_factory=dict)
    default: str = "I am not sure about that."
    piece_delay_s: float = 0.0
    """Pause before each piece, like a model's generation time (lets a barge-in land mid-answer)."""
    fail: LlmError | None = None
    """Raise this after the first piece instead of finishing (a model that breaks down mid-answer)."""
    name: str = "scripted-llm"
    streams: list[StreamRecord] = field(default_factory=list)

    def prompt_text(self, request: LlmRequest) -> str:
        history = " | ".join(f"{user} -> {said}" for user, said in request.history)
        return f"[{request.style}] {context_line(request)} history: {history} Q: {request.user_text.strip()}"

    def answer_for(self, text: str) -> str:
        return self.answers.get(_key(text), self.default)

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        record = StreamRecord(request, self.answer_for(request.user_text))
        self.streams.append(record)
        for piece in re.findall(r"\S+\s*", record.answer):
            if self.piece_delay_s:
                await asyncio.sleep(self.piece_delay_s)
            if self.fail is not None and record.pieces_sent:
                raise self.fail
            record.pieces_sent += 1
            yield piece
        record.finished = True


def _key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


class SilentSpeech:
    """A voice that says nothing for as long as the text would take to say (``seconds_per_char``)."""

    name = "silent-voice"

    def __init__(self, *, seconds_per_char: float = 0.06, audio_format: PcmFormat = TTS_FORMAT,
                 chunk_delay_s: float = 0.0) -> None:
        self.audio_format = audio_format
        self.seconds_per_char = seconds_per_char
        """About a real voice's pace at 0.06 (15 characters a second)."""
        self.chunk_delay_s = chunk_delay_s
        self.said: list[str] = []
        """Every text synthesised, in order (also the ones stopped early)."""

    def seconds(self, text: str) -> float:
        return len(text) * self.seconds_per_char

    async def synthesize(self, text: str, *, deterministic: bool = False) -> AsyncIterator[bytes]:
        self.said.append(text)
        fmt = self.audio_format
        remaining = int(self.seconds(text) * fmt.rate) * fmt.width * fmt.channels
        chunk = TTS_CHUNK_SAMPLES * fmt.width * fmt.channels
        while remaining > 0:
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            size = min(chunk, remaining)
            remaining -= size
            yield bytes(size)


def fake_models(stt: ScriptedSpeechToText | None = None, llm: ScriptedLanguageModel | None = None,
                tts: SilentSpeech | None = None) -> Models:
    """The hub's :class:`~hub.loaded_models.Models` made of fakes (what ``Hub(settings, models)`` takes)."""
    stt = stt or ScriptedSpeechToText()
    llm = llm or ScriptedLanguageModel()
    tts = tts or SilentSpeech()
    status = [ModelStatus(kind="stt", name=stt.name, status="loaded"),
              ModelStatus(kind="llm", name=llm.name, status="loaded"),
              ModelStatus(kind="tts", name=tts.name, status="loaded")]
    return Models(stt, llm, tts, status)
