"""A turn's voice: sentences to TTS to the satellite, and what has really been heard of them.

Each finished sentence goes to the synthesizer at once and its chunks to the satellite while the
language model still writes the next one. What was *spoken* (for the conversation history after
an interrupt) is judged on the hub clock from how much audio each sentence ended at.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from hub.conversation.event_data import AudioFinished, AudioStarted, FirstToken, Played, Sentence, SentenceSpoken
from hub.conversation.events import EventData
from hub.pipeline.chunker import SentenceChunker
from hub.pipeline.ports import Synthesizer


class Speaker:
    def __init__(self, tts: Synthesizer, send: Callable[[Event], Awaitable[None]],
                 emit: Callable[[EventData], object]) -> None:
        self._tts = tts
        self._send = send
        self._emit = emit
        self._spoken: list[tuple[str, float]] = []  # (sentence, audio end in seconds from first audio)
        self._first_audio_t: float | None = None
        self._audio_seconds = 0.0

    async def speak(self, sentences: AsyncIterator[str]) -> str:
        """Say ``sentences`` as they come; the text actually sent."""
        fmt = self._tts.audio_format
        started = False
        index = 0
        async for sentence in sentences:
            sentence = sentence.strip()
            if not sentence:
                continue
            self._emit(Sentence(text=sentence, index=index))
            audio = self._tts.synthesize(sentence)
            try:
                async for chunk in audio:
                    if not started:
                        started = True
                        await self._send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event())
                        self._first_audio_t = time.monotonic()
                        self._emit(AudioStarted())
                    await self._send(
                        AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=chunk).event())
                    self._audio_seconds += fmt.duration_ms(len(chunk)) / 1000
            finally:
                await aclose(audio)
            self._spoken.append((sentence, self._audio_seconds))
            self._emit(SentenceSpoken(text=sentence, index=index, audio_end_s=self._audio_seconds))
            index += 1
        if started:
            await self._send(AudioStop().event())
        response = " ".join(sentence for sentence, _ in self._spoken)
        self._emit(AudioFinished(response=response, audio_s=round(self._audio_seconds, 3)))
        return response

    async def wait_played(self, played: asyncio.Event, grace_s: float) -> bool | None:
        """Wait for the satellite's ``played`` (bounded by the audio's length plus ``grace_s``);
        None if nothing was spoken, False if it never came."""
        if self._first_audio_t is None:
            return None
        remaining = self._first_audio_t + self._audio_seconds - time.monotonic()
        try:
            await asyncio.wait_for(played.wait(), max(0.0, remaining) + grace_s)
        except TimeoutError:
            return False
        self._emit(Played())
        return True

    def spoken_text(self) -> str:
        """The sentences the satellite has had time to play completely, judged on the hub clock."""
        if self._first_audio_t is None:
            return ""
        elapsed = time.monotonic() - self._first_audio_t
        return " ".join(sentence for sentence, end in self._spoken if end <= elapsed)


async def sentences(tokens: AsyncIterator[str], emit: Callable[[EventData], object], *, first_clause_words: int,
                    max_chars: int) -> AsyncIterator[str]:
    """The language model's tokens as sentences to speak, cut after ``max_chars``."""
    chunker = SentenceChunker(first_clause_words=first_clause_words)
    first = True
    written = 0
    try:
        async for piece in tokens:
            if first:
                first = False
                emit(FirstToken())
            written += len(piece)
            for sentence in chunker.feed(piece):
                yield sentence
            if written > max_chars:
                break
        for sentence in chunker.flush():
            yield sentence
    finally:
        await aclose(tokens)


async def single(text: str) -> AsyncIterator[str]:
    yield text


async def aclose(iterator: AsyncIterator[Any]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
