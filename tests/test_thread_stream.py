"""common.thread_stream: a blocking generator in a worker thread, consumed from asyncio (piper, llama.cpp)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from common.thread_stream import stream_from_thread
from hub.pipeline.tts import TtsError

pytestmark = pytest.mark.timeout(30)


async def test_a_failing_worker_thread_raises_the_stage_error_from_the_original() -> None:
    def broken(stop: threading.Event) -> Iterator[bytes]:
        yield b"first"
        raise OSError("the voice file vanished")

    got: list[bytes] = []
    with pytest.raises(TtsError) as caught:
        async for chunk in stream_from_thread(broken, wrap=lambda e: TtsError(f"speech synthesis failed: {e}")):
            got.append(chunk)
    assert got == [b"first"]
    assert caught.value.code == "tts_failed"
    assert isinstance(caught.value.__cause__, OSError)


async def test_leaving_early_stops_the_worker_thread_promptly() -> None:
    produced: list[int] = []
    finished = threading.Event()

    def endless(stop: threading.Event) -> Iterator[int]:
        try:
            for n in range(10_000):
                produced.append(n)
                yield n
        finally:
            finished.set()

    async with contextlib.aclosing(stream_from_thread(endless, wrap=TtsError, max_items=4)) as items:
        async for n in items:
            if n == 2:
                break
    # The worker noticed within a poll or two, and the bounded queue held it back meanwhile.
    assert await asyncio.to_thread(finished.wait, 2.0)
    assert len(produced) < 20


async def test_an_unbounded_stream_never_waits_for_a_slow_consumer() -> None:
    """A model's tokens keep their pace while the turn is busy elsewhere (speaking the last sentence)."""
    done = threading.Event()

    def tokens(stop: threading.Event) -> Iterator[int]:
        yield from range(500)
        done.set()

    async with contextlib.aclosing(stream_from_thread(tokens, wrap=TtsError, max_items=0)) as items:
        first = await anext(items)
        started = time.monotonic()
        while not done.is_set():  # the consumer reads nothing more meanwhile
            assert time.monotonic() - started < 5, "the generator waited for the consumer"
            await asyncio.sleep(0.01)
        rest = [n async for n in items]
    assert [first, *rest] == list(range(500))


async def test_waiting_for_the_worker_means_it_has_stopped_when_the_consumer_is_back() -> None:
    """With ``wait_for_worker`` (a model behind an asyncio lock) the next request never overlaps this one."""
    running = threading.Event()

    def slow(stop: threading.Event) -> Iterator[int]:
        running.set()
        try:
            for n in range(1000):
                time.sleep(0.01)
                yield n
        finally:
            running.clear()

    async with contextlib.aclosing(stream_from_thread(slow, wrap=TtsError, max_items=0,
                                                      wait_for_worker=True)) as items:
        async for n in items:
            if n == 3:
                break
    assert not running.is_set()
