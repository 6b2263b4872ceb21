"""``[conversation]``: how a turn listens, decides and answers; the one source of these defaults.

The pipeline's own frozen settings (:class:`~hub.pipeline.turn_services.TurnSettings`,
:class:`~hub.pipeline.endpointing.EndpointSettings`, :class:`~hub.pipeline.transcript.DoubtSettings`)
take their defaults from this model (:func:`default`), so a default is written once, here, with its
unit and why; the hub builds them from the parsed settings (hub/wiring.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from protocol.end_of_speech import MAX_SPEECH_MS, SILENCE_MS

DEFAULT_SYSTEM_PROMPT = (
    "You are Hearth, a friendly voice assistant in a family home. Your answers are spoken aloud: "
    "no lists, no markdown, no emoji."
)


class ConversationSettings(BaseModel):
    """``[conversation]``: listening, end of speech, speculation, doubt and answers."""

    model_config = ConfigDict(extra="forbid")

    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, description="System prompt for the language model")
    history_turns: int = Field(default=4, ge=0, le=32, description="Earlier turns kept as context per satellite")
    silence_ms: int = Field(default=SILENCE_MS, ge=100, le=5000, description="Hub end-of-speech silence window, ms")
    max_speech_ms: int = Field(default=MAX_SPEECH_MS, ge=1000, le=30000, description="Longest utterance, ms")
    speculative_stt_ms: int = Field(default=150, ge=0, le=5000,
                                    description="Start transcribing after this much silence, before the end of "
                                                "speech is decided (0: off; a pause this long mid-sentence costs "
                                                "one wasted whisper call), ms")
    command_silence_ms: int = Field(default=600, ge=0, le=5000,
                                    description="End of speech after this much silence when the speculative "
                                                "transcript is already a complete command (an intent with all its "
                                                "slots, e.g. 'turn on the kitchen lights'); speech resuming "
                                                "before it discards the guess (0: off; never longer than "
                                                "silence_ms), ms")
    speculative_answer: bool = Field(default=True,
                                     description="Start the language model on the speculative transcript (prompt "
                                                 "and first tokens, no audio); kept if the final words are the "
                                                 "same, cancelled otherwise")
    first_clause_words: int = Field(default=4, ge=0, le=50,
                                    description="Speak the answer's first clause (up to a comma) on its own once it "
                                                "has this many words, so audio starts sooner (0: whole sentences)")
    arbitration_window_ms: int = Field(default=200, ge=0, le=2000,
                                       description="How long wakes from several rooms are collected, ms")
    unsure_logprob: float = Field(default=-1.0, ge=-10.0, le=0.0,
                                  description="Ask the person to repeat when the transcript's mean log-probability "
                                              "per token is below this (natural log; 0 is certain)")
    no_speech_prob: float = Field(default=0.5, ge=0.0, le=1.0,
                                  description="Say nothing when whisper's no-speech probability is above this "
                                              "(and its transcript is not clearly confident): nobody spoke")
    listen_after_asking: bool = Field(default=True,
                                      description="After asking the person to repeat, open the satellite's "
                                                  "microphone again once the question has played (no wake word "
                                                  "needed; once in a row; our satellite over Wyoming only)")


def default(name: str) -> Any:
    """The default of ``[conversation] name``."""
    return ConversationSettings.model_fields[name].get_default(call_default_factory=True)
