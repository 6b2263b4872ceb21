"""Any OpenAI-compatible chat server (llama.cpp's llama-server, llama-cpp-python's server, Ollama,
vLLM ...) on the house network, streamed with httpx.

- ``base_url`` is the API root the servers document (``http://host:8080/v1``); the hub posts to
  ``<base_url>/chat/completions`` with ``stream: true`` and reads the server-sent events.
- Connecting and each read have their own timeout. Before the first token a failed attempt
  (refused, timed out, HTTP 429/5xx) is retried with exponential backoff; after it, a failure ends
  the answer (repeating half a sentence would be worse). Everything that cannot be had raises
  :class:`~hub.llm.base.LlmUnreachable` or :class:`~hub.llm.base.LlmError`.
- Closing the stream (barge-in cancels the turn, the style's sentence budget is spent) closes the
  HTTP response and its connection, so the server sees the client go and stops generating.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from hub.llm.base import LlmError, LlmRequest, LlmUnreachable, chat_messages

_LOGGER = logging.getLogger(__name__)
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def chat_url(base_url: str) -> str:
    """``http://h:8080/v1`` -> ``http://h:8080/v1/chat/completions`` (a full endpoint URL is kept)."""
    url = httpx.URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"the language model endpoint must be an http(s) URL, got {base_url!r}")
    text = str(url).rstrip("/")
    return text if text.endswith("/chat/completions") else f"{text}/chat/completions"


class OpenAICompatible:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, connect_timeout_s: float = 3.0,
                 read_timeout_s: float = 30.0, retries: int = 2, backoff_s: float = 0.25) -> None:
        self.name = model
        self.url = chat_url(base_url)
        self._model = model
        self._headers = {"Accept": "text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s

    def prompt_text(self, request: LlmRequest) -> str:
        return json.dumps(chat_messages(request), ensure_ascii=False)

    def _body(self, request: LlmRequest) -> dict[str, Any]:
        return {"model": self._model, "messages": chat_messages(request), "stream": True,
                "max_tokens": request.token_budget, "temperature": 0.3}

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        body = self._body(request)
        attempt = 0
        # A client per answer: it belongs to the event loop that runs the turn, and closing it
        # (with the response) is what tells the server to stop.
        async with httpx.AsyncClient(timeout=self._timeout, headers=self._headers) as client:
            while True:
                started = False
                try:
                    async with client.stream("POST", self.url, json=body) as response:
                        if response.status_code != 200:
                            detail = (await response.aread())[:300].decode("utf-8", "replace")
                            error = LlmError(f"{self.url} answered HTTP {response.status_code}: {detail}")
                            if response.status_code not in _RETRY_STATUS:
                                error.code = "llm_http_error"
                                raise error
                            raise _Retryable(error)
                        async for piece in _pieces(response):
                            started = True
                            yield piece
                        return
                except (httpx.TransportError, _Retryable) as err:
                    if started:
                        raise LlmError(f"the language model at {self.url} stopped mid-answer: {_why(err)}") from err
                    if attempt >= self._retries:
                        raise LlmUnreachable(f"the language model at {self.url} is unreachable after "
                                             f"{attempt + 1} attempt(s): {_why(err)}") from err
                    delay = self._backoff_s * 2**attempt
                    attempt += 1
                    _LOGGER.info("language model at %s: %s; retry %d in %.2f s", self.url, _why(err), attempt, delay)
                    await asyncio.sleep(delay)


class _Retryable(Exception):
    def __init__(self, error: LlmError) -> None:
        super().__init__(str(error))
        self.error = error


def _why(err: BaseException) -> str:
    return str(err) or type(err).__name__


async def _pieces(response: httpx.Response) -> AsyncIterator[str]:
    """The text deltas of an OpenAI chat completion event stream."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # comments (": ping"), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as err:
            raise LlmError(f"the language model sent an unreadable event: {data[:120]!r}") from err
        if isinstance(event, dict) and event.get("error"):
            raise LlmError(f"the language model reported: {str(event['error'])[:300]}")
        try:
            choice = event["choices"][0] if event.get("choices") else {}
            piece = (choice.get("delta") or {}).get("content") or choice.get("text")
        except (AttributeError, TypeError, KeyError, IndexError) as err:
            raise LlmError(f"the language model sent an unexpected event: {data[:120]!r}") from err
        if piece:
            yield piece
