"""What every language model backend takes and gives, and the grounding every prompt carries.

Grounding is the same for every kind of model: the date, time and weekday, the satellite's room,
the remembered facts, the devices the question is about (filled by the home-control layer) and the
rule that what needs the internet is answered honestly. Chat models get it as a system message;
the base model's few-shot prompt gets it as a "Notes:" line (see :mod:`hub.llm.llama_local`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from common.errors import CodedError
from hub.answers.offline import OFFLINE_RULE

STYLE_TOKENS = {"brief": 40, "normal": 80, "detailed": 160}
"""Token budget per response style (the learning layer picks the style per room)."""
STYLE_SENTENCES = {"brief": 1, "normal": 2, "detailed": 5}
"""Most sentences spoken per style, whatever the model writes (:mod:`hub.llm.spoken_answer` cuts the rest)."""
STYLE_HINTS = {
    "brief": "Answer in one short sentence.",
    "normal": "Answer in one or two short sentences.",
    "detailed": "Answer in up to five sentences.",
}
VOICE_RULES = ("Your answers are spoken aloud: plain sentences, no lists, no markdown, no emoji, "
               "and numbers, times and units written as they are said.")


class LlmError(CodedError):
    """The model failed; ``code`` is stable (it ends up on MQTT), ``spoken`` is what the person hears."""

    code = "llm_failed"
    spoken = "Sorry, something went wrong while I was thinking."


class LlmUnreachable(LlmError):
    """The model's server could not be reached (refused, timed out, or kept failing) before any answer."""

    code = "llm_unreachable"
    spoken = "I can't reach the language model right now."


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
    device_states: tuple[str, ...] = ()
    """One sentence per device (or weather entity) the question is about, from the home-control layer,
    e.g. "Kitchen ceiling (light, Kitchen) is on at 50% brightness."."""
    max_tokens: int = field(default=0)
    """0: take the style's budget."""

    @property
    def token_budget(self) -> int:
        return self.max_tokens or STYLE_TOKENS.get(self.style, STYLE_TOKENS["normal"])

    @property
    def sentence_budget(self) -> int:
        return STYLE_SENTENCES.get(self.style, STYLE_SENTENCES["normal"])


class LanguageModel(Protocol):
    name: str

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        """Yield text pieces as they are generated; closing the iterator stops generation.

        Raises :class:`LlmError` (or :class:`LlmUnreachable`) when the model fails."""
        ...

    def prompt_text(self, request: LlmRequest) -> str:
        """The prompt as sent, for the session recorder."""
        ...


def say_clock(now: datetime) -> str:
    """ "Monday 30 November 2026, 1:29 PM" """
    hour = now.hour % 12 or 12
    return f"{now.strftime('%A')} {now.day} {now.strftime('%B %Y')}, {hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


def context_line(request: LlmRequest) -> str:
    """Everything the home knows right now that the question may need, in plain sentences."""
    parts = [f"It is {say_clock(request.now)}.", f"The user is in the {request.room}."]
    if request.facts:
        parts.append("Known facts: " + "; ".join(f.rstrip(".") for f in request.facts) + ".")
    if request.device_states:
        parts.append("Home right now: " + " ".join(request.device_states))
    return " ".join(parts)


def system_message(request: LlmRequest) -> str:
    """The chat models' system prompt: persona, voice rules, style, offline rule, then the grounding."""
    return " ".join(p for p in (request.system_prompt, VOICE_RULES, STYLE_HINTS.get(request.style, ""),
                                OFFLINE_RULE, context_line(request)) if p)


def chat_messages(request: LlmRequest) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_message(request)}]
    for user, assistant in request.history:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": request.user_text.strip()})
    return messages
