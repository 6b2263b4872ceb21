"""Run a blocking token generator in a thread and stream its pieces to asyncio.

Closing or cancelling the consumer sets a stop flag the generator checks between tokens, so
generation ends promptly and the model is free for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from hub.llm.base import LlmError

_END = object()


async def stream_from_thread(generate: Callable[[threading.Event], Iterator[str]], lock: asyncio.Lock) -> AsyncIterator[str]:
    async with lock:  # one generation per model at a time; waiters are served in order
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                for piece in generate(stop):
                    if stop.is_set():
                        break
                    put(piece)
            except Exception as err:  # handed to the consumer
                put(err)
            finally:
                put(_END)

        worker = loop.run_in_executor(None, run)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, LlmError):
                    raise item
                if isinstance(item, Exception):
                    raise LlmError(f"language model failed: {item}") from item
                assert isinstance(item, str)
                yield item
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(worker)
