"""The language model on several OpenAI-compatible endpoints (llama.cpp server, vLLM, Ollama ...).

Wraps :class:`hub.llm.openai_client.OpenAICompatible` (one per endpoint, each with its own
timeouts and retries): an answer goes to the least-busy endpoint that is not out; one that cannot
be reached before its first token (:class:`~hub.llm.base.LlmUnreachable`) is taken out with a
backoff and the answer goes to the next, then to the local model (``local_fallback``). After the
first token a failure ends the answer, as with one endpoint. An endpoint's backoff ending puts it
back; the next answer tells whether it works (no probe: the servers' health URLs differ).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from hub.llm.base import LanguageModel, LlmRequest, LlmUnreachable
from hub.remote.pool import ServerPool

_LOGGER = logging.getLogger(__name__)


class LanguageModelPool:
    def __init__(self, pool: ServerPool[LanguageModel], *, local: LanguageModel | None = None) -> None:
        self.pool = pool
        self.local = local
        first = pool.servers[0].address
        self.name = first.name
        self._prompt = first
        self.retried = 0
        self.fell_back = 0

    def prompt_text(self, request: LlmRequest) -> str:
        return self._prompt.prompt_text(request)

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        tried: set[str] = set()
        last: LlmUnreachable | None = None
        while (server := self.pool.pick(tried)) is not None:
            tried.add(server.uri)
            started = False
            pieces = server.address.stream(request)
            try:
                with self.pool.using(server):
                    async for piece in pieces:
                        started = True
                        yield piece
                self.pool.succeeded(server)
                if len(tried) > 1:
                    self.retried += 1
                return
            except LlmUnreachable as err:
                if started:
                    raise
                self.pool.failed(server, err)
                last = err
            finally:
                await pieces.aclose()  # type: ignore[attr-defined]
        if self.local is not None:
            self.fell_back += 1
            _LOGGER.warning("no language model endpoint usable (%s): answering with the local model",
                            self.pool.describe())
            local = self.local.stream(request)
            try:
                async for piece in local:
                    yield piece
            finally:
                await local.aclose()  # type: ignore[attr-defined]
            return
        raise LlmUnreachable(f"no language model endpoint reachable: {self.pool.describe()}") from last
