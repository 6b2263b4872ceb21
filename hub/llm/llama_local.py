"""llama.cpp in process (llama-cpp-python), for any GGUF file.

A GGUF that carries a chat template in its metadata (``tokenizer.chat_template``, every instruct
model) is driven through it with system/user/assistant messages. One without (the shipped gemma 3
270M *base* model) gets a few-shot plain completion prompt instead: a fixed block of example
conversations that shows how to use the notes, then this turn's notes (date, room, facts, devices),
the last turns and the question. The fixed block never changes, so llama.cpp reuses its cached
tokens from turn to turn.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from hub.llm.base import LlmError, LlmRequest, chat_messages, context_line
from hub.llm.threaded import stream_from_thread

_LOGGER = logging.getLogger(__name__)

FEW_SHOT = """The following are conversations with Hearth, a friendly voice assistant in a family home, and its spoken answers. Before each conversation, Hearth's notes say the date, the room and what it knows about the home. Answers are one or two short, correct sentences. Hearth uses its notes, and when the answer needs the internet (news, live scores, prices), it says it cannot check that offline.

Notes: It is Tuesday 3 March 2026, 8:15 AM. The user is in the bedroom. Known facts: the user's name is Alex; the dog is called Biscuit. Home right now: Bedroom lamp (light, Bedroom) is off.
Q: How many legs does a spider have?
A: A spider has eight legs.
Q: What's my dog called?
A: Your dog is called Biscuit.
Q: Is the bedroom lamp on?
A: No, the bedroom lamp is off.
Q: Who won the football last night?
A: Sorry, I can't check live scores: I work offline.
Q: Why is the sky blue?
A: Sunlight scatters off the air, and blue light scatters the most, so the sky looks blue.
Q: Which room am I in?
A: You're in the bedroom.

"""


def uses_chat_template(metadata: Mapping[str, str]) -> bool:
    """True when the GGUF ships a chat template (an instruct model)."""
    return bool(metadata.get("tokenizer.chat_template", "").strip())


def check_gguf(path: Path) -> None:
    """A clear error for a path that is not a GGUF file, before llama.cpp prints its own."""
    if not path.is_file():
        raise FileNotFoundError(f"language model file {path} does not exist")
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (llama.cpp models are .gguf)")


def completion_prompt(request: LlmRequest) -> str:
    """The base model's prompt: fixed examples, this turn's notes, the last turns, the question."""
    history = "".join(f"Q: {user.strip()}\nA: {assistant.strip()}\n" for user, assistant in request.history)
    return f"{FEW_SHOT}Notes: {context_line(request)}\n{history}Q: {request.user_text.strip()}\nA:"


class LlamaLocal:
    def __init__(self, gguf_path: Path, *, n_ctx: int = 2048, n_threads: int = 2) -> None:
        from llama_cpp import Llama

        check_gguf(gguf_path)
        self.name = gguf_path.stem
        self._llm = Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        self.chat = uses_chat_template(self._llm.metadata)
        self._lock = asyncio.Lock()
        _LOGGER.info("loaded %s (%s prompt)", self.name, "chat template" if self.chat else "few-shot completion")

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self._llm.metadata

    def prompt_text(self, request: LlmRequest) -> str:
        if self.chat:
            return "\n".join(f"{m['role']}: {m['content']}" for m in chat_messages(request))
        return completion_prompt(request)

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        return stream_from_thread(lambda stop: self._generate(request, stop), self._lock)

    def _generate(self, request: LlmRequest, stop: threading.Event) -> Iterator[str]:
        try:
            if self.chat:
                yield from self._chat(request, stop)
            else:
                yield from self._complete(request, stop)
        except ValueError as err:  # llama.cpp's way of saying the prompt does not fit the context
            raise LlmError(f"{self.name}: {err}") from err

    def _chat(self, request: LlmRequest, stop: threading.Event) -> Iterator[str]:
        chunks = self._llm.create_chat_completion(
            messages=chat_messages(request),  # type: ignore[arg-type]
            max_tokens=request.token_budget, stream=True, temperature=0.3,
        )
        for chunk in chunks:
            if stop.is_set():
                return
            piece = chunk["choices"][0].get("delta", {}).get("content")  # type: ignore[index, union-attr]
            if piece:
                yield str(piece)

    def _complete(self, request: LlmRequest, stop: threading.Event) -> Iterator[str]:
        completion = self._llm.create_completion(
            completion_prompt(request), max_tokens=request.token_budget, stream=True,
            stop=["\n", "Q:", "Notes:"], temperature=0.2, top_p=0.9, repeat_penalty=1.1,
        )
        for chunk in completion:
            if stop.is_set():
                return
            piece = chunk["choices"][0]["text"]  # type: ignore[index]
            if piece:
                yield str(piece)
