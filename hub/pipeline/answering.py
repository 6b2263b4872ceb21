"""A turn's answer: a fast-path intent, a quick answer, Home Assistant's Assist, or the language model.

Also judges speculative transcripts while the person may still be speaking: a complete command
may end listening early, and an LLM answer may be started on words that will likely be final.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from hub.conversation.event_data import AskedToRepeat, IntentMatched, LlmStarted, Speculation
from hub.conversation.events import monotonic
from hub.home.intents import Intent
from hub.llm.base import LlmRequest
from hub.llm.spoken_answer import SpokenAnswer
from hub.pipeline.ports import Transcription
from hub.pipeline.speaking import sentences, single
from hub.pipeline.speculation import SpeculativeAnswer
from hub.pipeline.transcript import Confidence, Doubt, ask_again, clean, doubt
from hub.pipeline.turn_base import TurnBase

_LOGGER = logging.getLogger(__name__)


class Answering(TurnBase):
    asked_again = False
    """The person was asked to repeat (and the question was spoken): the session may open the mic for it."""
    follow_up = False
    """The session opened this turn with ``listen`` after asking again: it is not asked to listen once more."""

    async def _answer(self, text: str) -> str:
        services = self.services
        if not text.strip():
            self.handler = "empty"
            return ""
        heard = self.heard or clean(text)
        if self.doubt is not None:
            return await self._not_sure()
        text = heard.text  # a leftover wake phrase and fillers are not part of the request
        services.on_user_text(self.session.id, self.turn_id, text)
        # An answer to "the ceiling light or the desk lamp?" completes that command; otherwise match afresh
        # (off the loop: hassil takes a few ms, and other rooms' audio keeps flowing meanwhile).
        intent = services.skills.follow_up(self.session.id, text) or await self._match(text)
        if intent is None and heard.command and heard.command != text:  # "could you ..., thanks" -> the command
            intent = await asyncio.to_thread(services.matcher.match, heard.command, self.session.area)
        if intent is not None:
            self.handler = intent.name
            self.emit(IntentMatched(name=intent.name, slots=dict(intent.slots)))
            answer = await services.skills.answer(intent, self.session.id, self.session.area, text, self.session,
                                                  turn_id=self.turn_id)
            return await self.speaker.speak(single(answer.text)) if answer.text else ""
        quick = services.answers(text, self.session.area, services.clock())
        if quick is not None:
            self.handler = f"quick_{quick.kind}"
            self.emit(IntentMatched(name=self.handler))
            return await self.speaker.speak(single(quick.text))
        assisted = await services.skills.assist_answer(text)  # Home Assistant's Assist, when asked to be asked
        if assisted is not None:
            self.handler = "assist"
            self.emit(IntentMatched(name=self.handler))
            return await self.speaker.speak(single(assisted))
        self.handler = "llm"
        request = self._llm_request(text)
        prompt = services.llm.prompt_text(request)
        # Started during the silence window if it could.
        tokens, speculation, ahead_ms = await self._llm_tokens(request, prompt)
        self.emit(LlmStarted(prompt=prompt, style=request.style, speculative=speculation,
                             speculative_ahead_ms=ahead_ms))
        # Spoken-shaped and cut to the style's length; a failed model is heard, then ends the turn as an error.
        spoken = SpokenAnswer(tokens, max_sentences=request.sentence_budget)
        settings = services.settings
        response = await self.speaker.speak(spoken.sentences(sentences(
            spoken.tokens(), self.emit, first_clause_words=settings.first_clause_words,
            max_chars=settings.max_answer_chars)))
        spoken.raise_if_failed()
        return response

    async def _match(self, text: str) -> Intent | None:
        """The intent in ``text``; the speculative transcript's judge may have matched these very words already."""
        guessed, self._guessed = self._guessed, None
        if guessed is not None and guessed[0] == text:
            return guessed[1]
        return await asyncio.to_thread(self.services.matcher.match, text, self.session.area)

    async def _judge(self, result: Transcription) -> str:
        """What the speculative transcript would lead to: "command" (a complete fast-path intent, which may
        end listening early), "llm" (its answer is started now, no audio) or "other"."""
        services = self.services
        heard = clean(result.text, self._wake_word())
        if not heard.text.strip() or doubt(heard, Confidence(result.avg_logprob, result.no_speech_prob),
                                           services.settings.doubt) is not None:
            return "other"  # asked again or ignored: nothing to hurry
        intent = await asyncio.to_thread(services.matcher.match, heard.text, self.session.area)
        if intent is None and heard.command and heard.command != heard.text:
            intent = await asyncio.to_thread(services.matcher.match, heard.command, self.session.area)
        self._guessed = (heard.text, intent)  # the answer reuses it when the final words are these
        if intent is not None:
            # An unknown device is answered "I don't know X": the person may still be saying its name.
            return "other" if intent.slots.get("unknown") else "command"
        if not services.speculative_llm or services.answers(heard.text, self.session.area, services.clock()):
            return "other"
        if self._speculative is not None:
            await self._drop_speculative()
        request = self._llm_request(heard.text)
        self._speculative = SpeculativeAnswer(services.llm.stream(request), services.llm.prompt_text(request),
                                              services.speculation, name=f"speculative-llm-{self.session.id}")
        return "llm"

    def _llm_request(self, text: str) -> LlmRequest:
        services = self.services
        return LlmRequest(
            user_text=text, room=self.session.area, now=services.clock(), system_prompt=services.settings.system_prompt,
            history=tuple(self.session.history)[-services.settings.history_turns:],
            style=services.style_for(self.session.id, self.session.area),
            facts=services.facts(), device_states=services.answers.device_states(text, self.session.area),
        )

    async def _llm_tokens(self, request: LlmRequest,
                          prompt: str) -> tuple[AsyncIterator[str], Speculation | None, float | None]:
        """The answer's token stream: the speculative one if it was started on this very prompt; whether it was
        (None: none was started), and how far ahead it started (ms)."""
        speculative, self._speculative = self._speculative, None
        if speculative is not None and speculative.prompt == prompt:
            ahead_ms = 1000 * (monotonic() - speculative.started_t)
            return speculative.adopt(), Speculation.HIT, round(ahead_ms, 1)
        if speculative is not None:
            _LOGGER.debug("%s: speculative prompt %r is not the final %r", self.session.id, speculative.prompt[-300:],
                          prompt[-300:])
            await speculative.cancel()  # another prompt (the final words differ): the model is needed for it
            return self.services.llm.stream(request), Speculation.MISS, None
        return self.services.llm.stream(request), None, None

    async def _not_sure(self) -> str:
        """Neither the LLM nor an intent gets a fragment or a guess: ask again, or say nothing if nobody spoke."""
        if self.doubt == Doubt.NO_SPEECH:
            self.handler = "no_speech"  # a false wake: "sorry?" would only talk over the room
            return ""
        assert self.doubt is not None
        self.handler = "ask_again"
        said = ask_again(self.turn_id)
        self.emit(AskedToRepeat(reason=self.doubt, said=said))
        spoken = await self.speaker.speak(single(said))
        self.asked_again = True
        return spoken
