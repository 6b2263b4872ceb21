"""Run a blocking generator in a worker thread and consume its items from asyncio, in order.

Model libraries (piper, llama.cpp) produce their output from a blocking loop; the event loop must
never run it. The worker hands each item over a bounded queue and waits while the queue is full, so
a slow consumer holds the producer back instead of letting memory grow. Leaving the consumer (closed,
cancelled by a barge-in, or failed) sets a stop flag that the worker checks after every item and
that the generator may check itself between expensive steps, so the model is free again promptly.

An exception in the generator reaches the consumer through ``wrap``, the stage's own error type
with a stable code (:mod:`common.errors`), raised from the original.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 64
"""Items waiting for the consumer before the worker waits too (64 TTS chunks: about 3 s of audio)."""
_PUT_POLL_S = 0.1
"""How often a worker waiting on a full queue looks whether the consumer has left, seconds."""
_END = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


async def stream_from_thread(generate: Callable[[threading.Event], Iterator[T]], *,
                             wrap: Callable[[Exception], BaseException],
                             max_items: int = DEFAULT_MAX_ITEMS,
                             wait_for_worker: bool = False) -> AsyncGenerator[T, None]:
    """Yield what ``generate(stop)`` yields, computed in a worker thread.

    ``max_items``: the queue's bound (0: none, for a generator bounded by other means).
    ``wait_for_worker``: when the consumer leaves early, wait until the thread has stopped (for a model
    guarded by an asyncio lock the caller holds: the next request must not start while this one still
    runs). Otherwise the thread ends on its own at its next item, and a lock the generator itself
    holds (a ``threading.Lock``) keeps the next call out until then, so a barge-in never waits for it.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=max_items)
    stop = threading.Event()

    def put(item: object) -> bool:
        """Hand one item to the consumer, waiting while its queue is full; False once it has left."""
        if max_items <= 0:  # unbounded: never wait for the event loop (a token stream keeps its pace)
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone
                return False
            return not stop.is_set()
        try:
            pending = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is gone
            return False
        while True:
            try:
                pending.result(timeout=_PUT_POLL_S)
                return True
            except concurrent.futures.TimeoutError:
                if stop.is_set():
                    pending.cancel()
                    return False
            except (concurrent.futures.CancelledError, RuntimeError):
                return False

    def run() -> None:
        items = generate(stop)
        try:
            for item in items:
                if stop.is_set() or not put(item):
                    return
        except Exception as err:  # handed to the consumer, which owns the stage
            put(_Failed(err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # in this thread: whatever the generator holds (a model lock) is released here
            if not stop.is_set():
                put(_END)

    worker = loop.run_in_executor(None, run)
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                error = wrap(item.error)
                if error is item.error:
                    raise error
                raise error from item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if wait_for_worker:
            with contextlib.suppress(Exception):
                await asyncio.shield(worker)
        else:
            worker.add_done_callback(_log_late_failure)


def _log_late_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _LOGGER.debug("worker thread ended with %r after its consumer left", future.exception())
