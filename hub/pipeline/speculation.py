"""Work started on the speculative transcript before the end of speech is decided, and what it cost.

The speculative transcript (``EarlyTranscript`` below) is ready inside the end-of-speech
window. Two things start from it:

- an early commit: a complete fast-path command ends listening after ``command_silence_ms``
  instead of the full window (the turn decides; this module only counts);
- a speculative answer: the language model's prompt prefill and first tokens, no audio. The turn
  adopts the stream when the final prompt is the same text, and cancels it otherwise; the
  wall time and pieces a cancelled one used are counted as waste.

Every speculative stream has one owner (the turn), which cancels then awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from hub.conversation.events import monotonic
from hub.pipeline.endpointing import Endpointer, StreamingSilero
from hub.pipeline.ports import Recognizer, Transcription
from hub.pipeline.stt import SttError
from protocol.audio import MIC_FORMAT

_LOGGER = logging.getLogger(__name__)

_END = object()


@dataclass
class SpeculationStats:
    """Counters since the hub started (on /metrics as ``hearth_hub_speculation_*``)."""

    early_commits: int = 0
    """Turns whose listening ended on the short command window."""
    early_discarded: int = 0
    """Speculative transcripts thrown away because the person spoke again."""
    commands_continued: int = 0
    """Of those, guesses that were complete commands: the person went on before the short window ended
    (each one an early commit that would have cut someone off had the window been shorter than the pause)."""
    llm_hits: int = 0
    """Speculative answers adopted: the final prompt was the speculative one."""
    llm_misses: int = 0
    """Speculative answers cancelled: speech resumed, the final text differed, or the turn went elsewhere."""
    llm_wasted_ms: float = 0.0
    """Wall time cancelled speculative answers ran, ms (the model was busy for them)."""
    llm_wasted_pieces: int = 0
    """Text pieces cancelled speculative answers produced."""


class SpeculativeAnswer:
    """A language-model stream started early; its pieces wait in a queue until the turn adopts or cancels it."""

    def __init__(self, stream: AsyncIterator[str], prompt: str, stats: SpeculationStats, name: str) -> None:
        self.prompt = prompt
        self.started_t = monotonic()
        self._stats = stats
        self._queue: asyncio.Queue[object] = asyncio.Queue()  # bounded by the answer's token budget
        self.pieces = 0
        self.adopted = False
        self._finished = False
        self._ended_t: float | None = None
        self._task = asyncio.create_task(self._pull(stream), name=name)

    async def _pull(self, stream: AsyncIterator[str]) -> None:
        try:
            async for piece in stream:
                self.pieces += 1
                self._queue.put_nowait(piece)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # handed to the adopting turn, which reports it as the model's failure
            self._queue.put_nowait(err)
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()  # stops the model thread at its next token
            self._ended_t = monotonic()
            self._queue.put_nowait(_END)

    def adopt(self) -> AsyncIterator[str]:
        """The turn takes the stream: what was generated so far comes at once, the rest as it is made."""
        self.adopted = True
        self._stats.llm_hits += 1
        return self._tokens()

    async def _tokens(self) -> AsyncIterator[str]:
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                assert isinstance(item, str)
                yield item
        finally:
            await self._stop()

    async def cancel(self) -> None:
        """Not wanted (speech resumed, another prompt, or no LLM answer): stop it and count the waste."""
        if self.adopted or self._finished:
            return
        self._stats.llm_misses += 1
        await self._stop()
        self._stats.llm_wasted_ms += 1000 * ((self._ended_t or monotonic()) - self.started_t)
        self._stats.llm_wasted_pieces += self.pieces

    async def _stop(self) -> None:
        self._finished = True
        if not self._task.done():
            self._task.cancel()
        # asyncio.wait never raises the task's own cancellation, only ours (which must propagate).
        await asyncio.wait({self._task})


class EarlyTranscript:
    """Speculative STT: transcribe during the end-of-speech silence window, keep it if nobody speaks again.

    The silence window (about 700 ms) and whisper (about 500 ms) would otherwise run one after the
    other. Audio after the last voiced window is silence, so a transcript of the audio up to a
    short silence is the transcript of the whole utterance. Each guess is judged (``judge``: what
    it would lead to) as soon as it is ready; a complete command may then end listening early
    (:meth:`commit_due`), and a guess made stale by new speech is dropped with its verdict.
    """

    def __init__(self, stt: Recognizer, satellite: str, after_ms: int, vocabulary: tuple[str, ...] = (),
                 judge: Callable[[Transcription], Awaitable[str]] | None = None,
                 on_judged: Callable[[], None] = lambda: None) -> None:
        self._stt = stt
        self._satellite = satellite
        self._vocabulary = vocabulary
        self._after_ms = after_ms
        self._judge = judge
        self._on_judged = on_judged
        self._task: asyncio.Task[Transcription] | None = None
        self._for_speech_end: float | None = None
        self._verdict: str | None = None
        self.used = False
        self.command_guessed = False
        """A guess in this utterance was a complete command."""
        self.continued_ms: float | None = None
        """Longest pause after a complete-command guess from which the person went on."""

    def update(self, endpointer: Endpointer, pcm: bytearray) -> str | None:
        """Start a guess once the silence is long enough. When speech resumed and a guess was dropped, returns
        its verdict ("command", "llm", "other", or "" when it had not been judged yet); otherwise None."""
        if not self._after_ms or not endpointer.heard_speech or endpointer.speech_end_audio_ms is None:
            return None
        dropped = None
        if self._task is not None and self._for_speech_end != endpointer.speech_end_audio_ms:
            self._task.cancel()  # the user spoke again: that guess is stale
            dropped = self._verdict or ""
            if dropped == "command" and self._for_speech_end is not None:
                # speech_end_audio_ms is the end of the first window voiced again: the pause ended one window earlier
                pause = endpointer.speech_end_audio_ms - MIC_FORMAT.duration_ms(StreamingSilero.chunk_bytes()) \
                    - self._for_speech_end
                self.continued_ms = max(self.continued_ms or 0.0, pause)
            self._task, self._verdict = None, None
        silence_ms = endpointer.audio_ms - endpointer.speech_end_audio_ms
        if self._task is None and silence_ms >= self._after_ms:
            self._for_speech_end = endpointer.speech_end_audio_ms
            self._task = asyncio.create_task(self._guess(bytes(pcm), endpointer.speech_end_audio_ms),
                                             name=f"early-stt-{self._satellite}")
        return dropped

    async def _guess(self, pcm: bytes, speech_end: float) -> Transcription:
        result = await self._stt.transcribe(pcm, self._satellite, vocabulary=self._vocabulary)
        if self._judge is not None:
            try:
                verdict = await self._judge(result)
            except Exception:  # a guess that cannot be judged only loses its head start
                _LOGGER.exception("%s: judging the speculative transcript failed", self._satellite)
                verdict = "other"
            _LOGGER.debug("%s: guess at %.0f ms of speech: %r -> %s%s", self._satellite, speech_end, result.text,
                          verdict, "" if self._for_speech_end == speech_end else " (stale)")
            if self._for_speech_end == speech_end:
                self._verdict = verdict
                self.command_guessed = self.command_guessed or verdict == "command"
                self._on_judged()
        return result

    def commit_due(self, endpointer: Endpointer, window_ms: float) -> bool:
        """The current guess is a complete command and the silence after it has lasted ``window_ms``."""
        task = self._task
        if (task is None or not task.done() or task.cancelled() or task.exception() is not None
                or self._verdict != "command" or self._for_speech_end != endpointer.speech_end_audio_ms
                or endpointer.speech_end_audio_ms is None):
            return False
        return endpointer.audio_ms - endpointer.speech_end_audio_ms >= window_ms

    async def result(self, endpointer: Endpointer, pcm: bytearray) -> Transcription:
        task, self._task = self._task, None
        if task is not None and self._for_speech_end == endpointer.speech_end_audio_ms:
            try:
                result = await task
                self.used = True
                return result
            except SttError:
                pass  # e.g. the queue was full a moment ago: try once more with all the audio
        elif task is not None:
            task.cancel()
        return await self._stt.transcribe(bytes(pcm), self._satellite, vocabulary=self._vocabulary)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
