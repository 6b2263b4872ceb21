"""What every turn shares: its settings and the services (models, matcher, skills, hooks) loaded once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from hub.answers import QuickAnswers
from hub.conversation.bus import EventBus
from hub.home.intents import IntentMatcher
from hub.home.skills import Skills
from hub.pipeline.conversation_settings import DEFAULT_SYSTEM_PROMPT, default
from hub.pipeline.endpointing import EndpointSettings
from hub.pipeline.ports import LanguageModel, Recognizer, Synthesizer
from hub.pipeline.speculation import SpeculationStats
from hub.pipeline.transcript import DoubtSettings

__all__ = ["DEFAULT_SYSTEM_PROMPT", "TurnServices", "TurnSettings"]


@dataclass(frozen=True)
class TurnSettings:
    """A turn's settings; defaults from ``[conversation]`` (:mod:`hub.pipeline.conversation_settings`)."""

    system_prompt: str = default("system_prompt")
    history_turns: int = default("history_turns")
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    played_grace_s: float = 5.0
    """How long past the end of the audio to wait for the satellite's ``played``."""
    max_answer_chars: int = 1000
    early_stt_ms: int = default("speculative_stt_ms")
    """Start transcribing after this much silence, before end of speech is decided, ms (0: off)."""
    first_clause_words: int = default("first_clause_words")
    """Speak the answer's first clause alone once it has this many words (0: whole sentences)."""
    doubt: DoubtSettings = field(default_factory=DoubtSettings)
    """When a transcript is not acted on: the person is asked again, or (nobody spoke) nothing is said."""
    listen_after_asking: bool = default("listen_after_asking")
    """After asking again, the session opens the satellite's microphone once (no wake word needed)."""


@dataclass
class TurnServices:
    """The models and helpers every turn shares (loaded once, for all satellites)."""

    bus: EventBus
    stt: Recognizer
    tts: Synthesizer
    llm: LanguageModel
    skills: Skills
    settings: TurnSettings = field(default_factory=TurnSettings)
    matcher: IntentMatcher = field(default_factory=IntentMatcher)
    style_for: Callable[[str, str], str] = lambda satellite, room: "normal"
    """(satellite, room) -> response style; the learning layer supplies it."""
    facts: Callable[[], tuple[str, ...]] = tuple
    """Long-term facts for the prompt; the memory supplies them."""
    on_user_text: Callable[[str, str, str], None] = lambda satellite, turn_id, text: None
    """Called with each transcript (memory picks facts out of it)."""
    on_turn_audio: Callable[[str, str, bytes], None] = lambda satellite, turn_id, pcm: None
    """Called with a turn's microphone audio once listening is over (the recorder may keep it)."""
    clock: Callable[[], datetime] = datetime.now
    answers: QuickAnswers = field(default_factory=QuickAnswers)
    """Answers needing no model (dates, maths, units, spelling, weather, what needs the internet), and the
    device states a question is about for the prompt; home control sets ``answers.home``."""
    speculation: SpeculationStats = field(default_factory=SpeculationStats)
    """Early commits and speculative answers: hits, misses and the model time wasted."""
    speculative_llm: bool = True
    """Start the language model on the speculative transcript (prefill and first tokens, no audio)."""
