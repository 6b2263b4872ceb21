"""Stream a local model's tokens from its worker thread, one generation per model at a time.

Closing or cancelling the consumer sets a stop flag the generator checks between tokens, so
generation ends promptly, and the model's lock is held until the thread has really stopped: the
next request never runs on a model that is still busy (see :mod:`common.thread_stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from common.thread_stream import stream_from_thread as _from_thread
from hub.llm.base import LlmError


async def stream_from_thread(generate: Callable[[threading.Event], Iterator[str]], lock: asyncio.Lock) -> AsyncIterator[str]:
    # No queue bound (0): the request's token budget bounds it, and the model never waits on a slow reader.
    async with lock:  # one generation per model at a time; waiters are served in order
        stream = _from_thread(generate, wrap=_llm_error, max_items=0, wait_for_worker=True)
        async with contextlib.aclosing(stream) as tokens:
            async for piece in tokens:
                yield piece


def _llm_error(err: Exception) -> LlmError:
    return err if isinstance(err, LlmError) else LlmError(f"language model failed: {err}")
