"""Work started on the speculative transcript before the end of speech is decided, and what it cost.

The speculative transcript (``hub.turn.EarlyTranscript``) is ready inside the end-of-speech
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
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hub.events import monotonic

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
