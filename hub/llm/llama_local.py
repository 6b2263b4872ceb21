"""llama.cpp in process (llama-cpp-python).

A GGUF that carries a chat template (an instruct model) is driven through it. One without
(the shipped gemma 3 270M *base* model) gets a few-shot plain completion prompt instead,
which makes a base model answer briefly and sensibly; its prefix never changes, so llama.cpp
reuses the cached prompt prefix from turn to turn.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

from hub.llm.base import STYLE_HINTS, LlmRequest, context_line
from hub.llm.threaded import stream_from_thread

_LOGGER = logging.getLogger(__name__)

FEW_SHOT = """The following are questions asked to Hearth, a friendly voice assistant in a family home, and its spoken answers. Answers are short, correct and helpful.

Q: What is the capital of France?
A: The capital of France is Paris.
Q: How many legs does a spider have?
A: A spider has eight legs.
Q: Why is the sky blue?
A: Sunlight scatters off the air, and blue light scatters the most, so the sky looks blue.
Q: Give me an idea for dinner.
A: How about a vegetable stir fry with rice? It is quick and healthy.
"""


def uses_chat_template(metadata: Mapping[str, str]) -> bool:
    """True when the GGUF ships a chat template (an instruct model)."""
    return bool(metadata.get("tokenizer.chat_template", "").strip())


class LlamaLocal:
    def __init__(self, gguf_path: Path, *, n_ctx: int = 2048, n_threads: int = 2) -> None:
        from llama_cpp import Llama

        self.name = gguf_path.stem
        self._llm = Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        self.chat = uses_chat_template(self._llm.metadata)
        self._lock = asyncio.Lock()
        _LOGGER.info("loaded %s (%s prompt)", self.name, "chat template" if self.chat else "few-shot completion")

    def prompt_text(self, request: LlmRequest) -> str:
        if self.chat:
            return "\n".join(f"{m['role']}: {m['content']}" for m in self._messages(request))
        return self._completion_prompt(request)

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        return stream_from_thread(lambda stop: self._generate(request, stop), self._lock)

    def _generate(self, request: LlmRequest, stop: threading.Event) -> Iterator[str]:
        if self.chat:
            chunks = self._llm.create_chat_completion(
                messages=self._messages(request), max_tokens=request.token_budget, stream=True, temperature=0.3
            )
            for chunk in chunks:
                if stop.is_set():
                    return
                piece = chunk["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece
            return
        completion = self._llm.create_completion(
            self._completion_prompt(request), max_tokens=request.token_budget, stream=True,
            stop=["\n", "Q:"], temperature=0.2, top_p=0.9, repeat_penalty=1.1,
        )
        for chunk in completion:
            if stop.is_set():
                return
            piece = chunk["choices"][0]["text"]
            if piece:
                yield piece

    def _messages(self, request: LlmRequest) -> list[dict[str, str]]:
        system = f"{request.system_prompt} {STYLE_HINTS.get(request.style, '')} {context_line(request)}".strip()
        messages = [{"role": "system", "content": system}]
        for user, assistant in request.history:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        messages.append({"role": "user", "content": request.user_text})
        return messages

    @staticmethod
    def _completion_prompt(request: LlmRequest) -> str:
        history = "".join(f"Q: {user}\nA: {assistant}\n" for user, assistant in request.history)
        facts = f"(Hearth knows: {'; '.join(request.facts)}.)\n" if request.facts else ""
        # The fixed few-shot block stays first so its tokens are reused from llama.cpp's cache.
        return f"{FEW_SHOT}{facts}{history}Q: {request.user_text.strip()}\nA:"
