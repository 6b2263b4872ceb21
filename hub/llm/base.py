"""What every language model backend takes and gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

STYLE_TOKENS = {"brief": 48, "normal": 96, "detailed": 192}
"""Token budget per response style (the learning layer picks the style per room)."""


class LlmError(RuntimeError):
    code = "llm_failed"


@dataclass(frozen=True)
class LlmRequest:
    user_text: str
    room: str
    now: datetime
    system_prompt: str
    history: tuple[tuple[str, str], ...] = ()
    """Earlier (user, assistant) exchanges, oldest first; assistant text is only what was spoken."""
    style: str = "normal"
    facts: tuple[str, ...] = ()
    """Long-term facts the user told us, for the prompt."""
    max_tokens: int = field(default=0)
    """0: take the style's budget."""

    @property
    def token_budget(self) -> int:
        return self.max_tokens or STYLE_TOKENS.get(self.style, STYLE_TOKENS["normal"])


class LanguageModel(Protocol):
    name: str

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        """Yield text pieces as they are generated; closing the iterator stops generation."""
        ...

    def prompt_text(self, request: LlmRequest) -> str:
        """The prompt as sent, for the session recorder."""
        ...


def context_line(request: LlmRequest) -> str:
    when = request.now.strftime("%A %d %B %Y, %H:%M")
    facts = (" Known facts: " + "; ".join(request.facts) + ".") if request.facts else ""
    return f"It is {when}. The user is in the {request.room}.{facts}"


STYLE_HINTS = {
    "brief": "Answer in one short sentence.",
    "normal": "Answer in one or two short sentences.",
    "detailed": "Answer in up to three sentences.",
}
