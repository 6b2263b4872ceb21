"""Any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM ...) on the house network."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator

from hub.llm.base import STYLE_HINTS, LlmError, LlmRequest, context_line
from hub.llm.threaded import stream_from_thread


class OpenAICompatible:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        parsed = urllib.parse.urlparse(base_url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"LLM endpoint must be an http(s) URL, got {base_url!r}")
        self.name = model
        self._url = parsed
        self._model = model
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._lock = asyncio.Lock()

    def prompt_text(self, request: LlmRequest) -> str:
        return json.dumps(self._messages(request))

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        return stream_from_thread(lambda stop: self._generate(request, stop), self._lock)

    def _messages(self, request: LlmRequest) -> list[dict[str, str]]:
        system = f"{request.system_prompt} {STYLE_HINTS.get(request.style, '')} {context_line(request)}".strip()
        messages = [{"role": "system", "content": system}]
        for user, assistant in request.history:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return [*messages, {"role": "user", "content": request.user_text}]

    def _generate(self, request: LlmRequest, stop: threading.Event) -> Iterator[str]:
        cls = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
        conn = cls(self._url.hostname or "", self._url.port, timeout=self._timeout_s)
        body = json.dumps({"model": self._model, "messages": self._messages(request), "stream": True,
                           "max_tokens": request.token_budget})
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            conn.request("POST", f"{self._url.path}/v1/chat/completions", body=body, headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                raise LlmError(f"LLM endpoint answered HTTP {response.status}: {response.read(200)!r}")
            for raw in response:
                if stop.is_set():
                    return
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                piece = json.loads(data)["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece
        except (OSError, ValueError, KeyError) as err:
            raise LlmError(f"LLM endpoint {self._url.geturl()} failed: {err}") from err
        finally:
            conn.close()
