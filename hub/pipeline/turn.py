"""One conversation turn: audio in, answer out, streaming at every step.

    listen  -> audio chunks until the satellite's ``audio-stop`` or the hub's endpointer
    think   -> STT; fast-path intent, or LLM tokens -> sentence chunker
    speak   -> each finished sentence goes to piper at once; its chunks go to the satellite
               while the LLM still writes the next sentence

A turn is one task owned by its :class:`~hub.conversation.session.SatelliteSession`; an interrupt
cancels that task, which stops the LLM thread and TTS at their next step, and the turn
reports what was actually spoken so the conversation context holds only that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.vad import VoiceStarted, VoiceStopped

from hub.conversation.events import ConversationEvent, EventKind, monotonic
from hub.home.intents import Intent
from hub.llm.base import LlmRequest
from hub.llm.spoken_answer import SpokenAnswer
from hub.pipeline.chunker import SentenceChunker
from hub.pipeline.endpointing import Endpointer, EndpointSettings
from hub.pipeline.speculation import EarlyTranscript, SpeculativeAnswer
from hub.pipeline.stt import Transcription
from hub.pipeline.transcript import Cleaned, Confidence, Doubt, ask_again, clean, doubt, wake_phrase
from hub.pipeline.turn_services import TurnServices
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT
from protocol.payloads import InterruptReason, TurnOutcome
from protocol.wyoming_events import TurnStarted

if TYPE_CHECKING:
    from hub.conversation.session import SatelliteSession

_LOGGER = logging.getLogger(__name__)

class SatelliteGone(ConnectionError):
    """The turn's satellite is not connected, or its connection closed while the turn spoke to it."""

    code = "satellite_disconnected"


AUDIO_STOPPED = object()
"""Put on a turn's audio queue when the satellite sends ``audio-stop`` (it ended speech itself)."""
GUESS_READY = object()
"""Put on a turn's audio queue when a speculative transcript has been judged (an early commit may be due)."""

class Turn:
    def __init__(self, services: TurnServices, session: SatelliteSession, turn_id: str, *,
                 text: str | None = None, announce: str | None = None, wake: dict[str, Any] | None = None,
                 endpoint: EndpointSettings | None = None) -> None:
        self.services = services
        self.session = session
        self.turn_id = turn_id
        self.audio: asyncio.Queue[object] = asyncio.Queue(maxsize=2000)
        self.audio_dropped = 0
        self._given_text = text
        self._announce = announce
        self._wake = wake or {}
        self._endpoint = endpoint or services.settings.endpoint
        self.interrupt_reason: InterruptReason | None = None
        self.transcript = ""
        self.handler = ""
        self.heard: Cleaned | None = None
        """The transcript cleaned of a leftover wake phrase and fillers (``hub.pipeline.transcript``)."""
        self.doubt: str | None = None
        """Why the turn will not act on what it heard (a ``hub.pipeline.transcript.Doubt`` code), or None."""
        self._spoken: list[tuple[str, float]] = []  # (sentence, audio end in seconds from first audio)
        self._first_audio_t: float | None = None
        self._audio_seconds = 0.0
        self.played = asyncio.Event()
        self.listening_done = False
        self._speculative: SpeculativeAnswer | None = None
        self._guessed: tuple[str, Intent | None] | None = None

    # -- input from the satellite link ------------------------------------------------------
    def add_audio(self, pcm: bytes) -> bool:
        """Queue microphone audio; False once the turn has stopped listening."""
        if self.listening_done:
            return False
        try:
            self.audio.put_nowait(pcm)
        except asyncio.QueueFull:
            self.audio_dropped += 1  # counted and reported in the turn's end event
        return True

    def audio_stopped(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.audio.put_nowait(AUDIO_STOPPED)

    # -- the turn ------------------------------------------------------------------------
    def emit(self, kind: EventKind, **data: Any) -> ConversationEvent:
        event = ConversationEvent(self.session.id, kind, turn_id=self.turn_id, data=data)
        self.services.bus.emit(event)
        return event

    async def run(self) -> None:
        outcome, error_code, response = TurnOutcome.DONE, None, ""
        listen = self._announce is None and self._given_text is None
        self.listening_done = not listen
        # A typed request passes through listening at once (its end of speech is now), so the state
        # machine sees the same listening -> thinking as for a spoken one; only announcements skip it.
        self.emit(EventKind.TURN_STARTED, listen=self._announce is None, room=self.session.area, **self._wake)
        try:
            await self.session.send(TurnStarted(self.turn_id).event())
            if self._announce is not None:
                self.handler = "announce"
                response = await self._speak(_single(self._announce))
            else:
                if listen:
                    heard = await self._listen()
                    if heard is None:
                        outcome = TurnOutcome.TIMEOUT
                        return
                    self.transcript = heard
                else:
                    self.transcript = self._given_text or ""
                    self.emit(EventKind.SPEECH_ENDED, by="text", speech_end_t=monotonic())
                    self.emit(EventKind.TRANSCRIPT, text=self.transcript, audio_ms=0.0, stt_ms=0.0,
                              **self._hear(self.transcript, None))
                response = await self._answer(self.transcript)
            await self._wait_played()
        except asyncio.CancelledError:
            outcome = TurnOutcome.INTERRUPTED
            response = self.spoken_text()
            self.emit(EventKind.INTERRUPTED, reason=(self.interrupt_reason or InterruptReason.HUB).value,
                      spoken=response)
            raise
        except SatelliteGone as err:
            # The satellite went away mid-turn: whether its socket or the link's disconnect notices first,
            # the person was cut off, not failed by the hub.
            outcome = TurnOutcome.INTERRUPTED
            response = self.spoken_text()
            _LOGGER.info("%s: turn %s ended, satellite lost: %s", self.session.id, self.turn_id, err)
            self.emit(EventKind.INTERRUPTED, reason=InterruptReason.SATELLITE_LOST.value, spoken=response)
        except Exception as err:
            outcome, error_code = TurnOutcome.ERROR, getattr(err, "code", type(err).__name__)
            _LOGGER.warning("%s: turn %s failed: %s", self.session.id, self.turn_id, err)
            self.emit(EventKind.ERROR, code=error_code, message=str(err))
            with contextlib.suppress(Exception):
                await self.session.send_error(str(err), error_code)
        finally:
            self.emit(EventKind.TURN_ENDED, outcome=outcome.value, transcript=self.transcript, response=response,
                      handler=self.handler, error_code=error_code, audio_dropped=self.audio_dropped)
            if self.transcript and self.doubt is None and outcome in (TurnOutcome.DONE, TurnOutcome.INTERRUPTED):
                self.session.remember(self.heard.text if self.heard else self.transcript, response)
            if self._speculative is not None:
                await self._drop_speculative()  # a turn that did not reach the LLM leaves no model work behind

    async def _listen(self) -> str | None:
        endpointer = Endpointer(self._endpoint)
        stats = self.services.speculation
        early = EarlyTranscript(self.services.stt, self.session.id, self.services.settings.early_stt_ms,
                                vocabulary=self._wake_vocabulary(), judge=self._judge,
                                on_judged=self._guess_judged)
        # A complete command may end listening sooner; never later than the full window.
        command_ms = min(self._endpoint.command_silence_ms, self._endpoint.silence_ms)
        try:
            pcm = bytearray()
            by = "hub"
            limit = MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS
            voice_started = False
            # The endpointer's max length bounds the wait, plus a margin for a satellite that stops sending.
            deadline = monotonic() + self._endpoint.max_ms / 1000 + 5.0
            while True:
                try:
                    item = await asyncio.wait_for(self.audio.get(), max(0.05, deadline - monotonic()))
                except TimeoutError:
                    by = "timeout"
                    break
                if item is GUESS_READY:
                    if command_ms and early.commit_due(endpointer, command_ms):
                        by = "command"
                        break
                    continue
                if item is AUDIO_STOPPED:
                    by = "satellite"
                    break
                assert isinstance(item, bytes)
                if len(pcm) + len(item) > limit:
                    by = "max_length"
                    break
                pcm += item
                if endpointer.feed(item, monotonic()):
                    by = endpointer.reason or "hub"
                    break
                if endpointer.heard_speech and not voice_started:
                    voice_started = True
                    self.emit(EventKind.SPEECH_STARTED)
                    await self.session.send(VoiceStarted().event())
                dropped = early.update(endpointer, pcm)
                if dropped is not None:
                    stats.early_discarded += 1  # the person spoke again: the guess, and work started on it, go
                    stats.commands_continued += dropped == "command"
                    if self._speculative is not None:
                        await self._drop_speculative()
                if command_ms and early.commit_due(endpointer, command_ms):
                    by = "command"
                    break
            self.listening_done = True
            decided = monotonic()
            if by == "command":
                stats.early_commits += 1
            speech_end_t = endpointer.speech_end_t if endpointer.speech_end_t is not None else decided
            self.emit(EventKind.SPEECH_ENDED, by=by, speech_end_t=speech_end_t,
                      speech_ms=endpointer.speech_end_audio_ms or 0.0, audio_ms=MIC_FORMAT.duration_ms(len(pcm)),
                      pause_ms=endpointer.longest_pause_ms, silence_ms=self._endpoint.silence_ms,
                      command_silence_ms=command_ms, command_guessed=early.command_guessed,
                      command_continued_ms=early.continued_ms)
            self.services.on_turn_audio(self.session.id, self.turn_id, bytes(pcm))
            await self.session.send(VoiceStopped().event())
            if not endpointer.heard_speech and by != "satellite":
                await self.session.send(Transcript(text="").event())
                return None
            result = await early.result(endpointer, pcm)
            self.emit(EventKind.TRANSCRIPT, text=result.text, audio_ms=result.audio_ms, stt_ms=result.compute_ms,
                      early=early.used, **self._hear(result.text, result))
            await self.session.send(Transcript(text=result.text).event())
            return result.text
        finally:
            early.cancel()  # an interrupted turn leaves no speculative work behind

    async def _match(self, text: str) -> Intent | None:
        """The intent in ``text``; the speculative transcript's judge may have matched these very words already."""
        guessed, self._guessed = self._guessed, None
        if guessed is not None and guessed[0] == text:
            return guessed[1]
        return await asyncio.to_thread(self.services.matcher.match, text, self.session.area)

    def _guess_judged(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a full queue still holds audio that re-checks the commit
            self.audio.put_nowait(GUESS_READY)

    async def _judge(self, result: Transcription) -> str:
        """What the speculative transcript would lead to: "command" (a complete fast-path intent, which may
        end listening early), "llm" (its answer is started now, no audio) or "other"."""
        services = self.services
        heard = clean(result.text, str(self._wake.get("wake_word") or "") or None)
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

    async def _drop_speculative(self) -> None:
        speculative, self._speculative = self._speculative, None
        if speculative is not None:
            await speculative.cancel()

    def _llm_request(self, text: str) -> LlmRequest:
        services = self.services
        return LlmRequest(
            user_text=text, room=self.session.area, now=services.clock(), system_prompt=services.settings.system_prompt,
            history=tuple(self.session.history)[-services.settings.history_turns:],
            style=services.style_for(self.session.id, self.session.area),
            facts=services.facts(), device_states=services.answers.device_states(text, self.session.area),
        )

    async def _llm_tokens(self, request: LlmRequest, prompt: str) -> tuple[AsyncIterator[str], dict[str, Any]]:
        """The answer's token stream: the speculative one if it was started on this very prompt."""
        speculative, self._speculative = self._speculative, None
        if speculative is not None and speculative.prompt == prompt:
            ahead_ms = 1000 * (monotonic() - speculative.started_t)
            return speculative.adopt(), {"speculative": "hit", "speculative_ahead_ms": round(ahead_ms, 1)}
        if speculative is not None:
            _LOGGER.debug("%s: speculative prompt %r is not the final %r", self.session.id, speculative.prompt[-300:],
                          prompt[-300:])
            await speculative.cancel()  # another prompt (the final words differ): the model is needed for it
            return self.services.llm.stream(request), {"speculative": "miss"}
        return self.services.llm.stream(request), {"speculative": None}

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
            self.emit(EventKind.INTENT, name=intent.name, slots={k: v for k, v in intent.slots.items()})
            answer = await services.skills.answer(intent, self.session.id, self.session.area, text, self.session,
                                                  turn_id=self.turn_id)
            return await self._speak(_single(answer.text)) if answer.text else ""
        quick = services.answers(text, self.session.area, services.clock())
        if quick is not None:
            self.handler = f"quick_{quick.kind}"
            self.emit(EventKind.INTENT, name=self.handler, slots={})
            return await self._speak(_single(quick.text))
        assisted = await services.skills.assist_answer(text)  # Home Assistant's Assist, when asked to be asked
        if assisted is not None:
            self.handler = "assist"
            self.emit(EventKind.INTENT, name=self.handler, slots={})
            return await self._speak(_single(assisted))
        self.handler = "llm"
        request = self._llm_request(text)
        prompt = services.llm.prompt_text(request)
        tokens, speculative = await self._llm_tokens(request, prompt)  # started during the silence window if it can
        self.emit(EventKind.LLM_STARTED, prompt=prompt, style=request.style, **speculative)
        # Spoken-shaped and cut to the style's length; a failed model is heard, then ends the turn as an error.
        spoken = SpokenAnswer(tokens, max_sentences=request.sentence_budget)
        response = await self._speak(spoken.sentences(self._sentences(spoken.tokens())))
        spoken.raise_if_failed()
        return response

    async def _sentences(self, tokens: AsyncIterator[str]) -> AsyncIterator[str]:
        chunker = SentenceChunker(first_clause_words=self.services.settings.first_clause_words)
        first = True
        written = 0
        try:
            async for piece in tokens:
                if first:
                    first = False
                    self.emit(EventKind.FIRST_TOKEN)
                written += len(piece)
                for sentence in chunker.feed(piece):
                    yield sentence
                if written > self.services.settings.max_answer_chars:
                    break
            for sentence in chunker.flush():
                yield sentence
        finally:
            await _aclose(tokens)

    async def _speak(self, sentences: AsyncIterator[str]) -> str:
        tts = self.services.tts
        fmt = tts.audio_format
        started = False
        index = 0
        async for sentence in sentences:
            sentence = sentence.strip()
            if not sentence:
                continue
            self.emit(EventKind.SENTENCE, text=sentence, index=index)
            audio = tts.synthesize(sentence)
            try:
                async for chunk in audio:
                    if not started:
                        started = True
                        await self.session.send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event())
                        self._first_audio_t = monotonic()
                        self.emit(EventKind.AUDIO_STARTED)
                    await self.session.send(
                        AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=chunk).event())
                    self._audio_seconds += fmt.duration_ms(len(chunk)) / 1000
            finally:
                await _aclose(audio)
            self._spoken.append((sentence, self._audio_seconds))
            self.emit(EventKind.SENTENCE_SPOKEN, text=sentence, index=index, audio_end_s=self._audio_seconds)
            index += 1
        if started:
            await self.session.send(AudioStop().event())
        response = " ".join(sentence for sentence, _ in self._spoken)
        self.emit(EventKind.AUDIO_FINISHED, response=response, audio_s=round(self._audio_seconds, 3))
        return response

    def _wake_vocabulary(self) -> tuple[str, ...]:
        """The wake phrase for whisper ("Hey Jarvis") when the stream holds it (the satellite's ``preroll_ms``):
        it is then spelled so it can be cut (bench.stt_commands: WER 40.4 -> 26.8 %). A stock satellite streams
        from after the wake, and there the phrase would only cost (20.4 -> 23.6 %)."""
        phrase = wake_phrase(str(self._wake.get("wake_word") or ""))
        return (phrase.title(),) if phrase and self._wake.get("preroll_ms") else ()

    def _hear(self, text: str, result: Transcription | None) -> dict[str, Any]:
        """Clean and judge what was heard (``hub.pipeline.transcript``); returns the TRANSCRIPT event's extra fields."""
        self.heard = clean(text, str(self._wake.get("wake_word") or "") or None)
        confidence = None if result is None else Confidence(result.avg_logprob, result.no_speech_prob)
        self.doubt = doubt(self.heard, confidence, self.services.settings.doubt) if text.strip() else None
        extra: dict[str, Any] = {"cleaned": self.heard.text, "doubt": self.doubt}
        if result is not None:
            extra |= {"avg_logprob": round(result.avg_logprob, 3), "no_speech_prob": round(result.no_speech_prob, 3),
                      "compression_ratio": round(result.compression_ratio, 2)}
        return extra

    async def _not_sure(self) -> str:
        """Neither the LLM nor an intent gets a fragment or a guess: ask again, or say nothing if nobody spoke."""
        if self.doubt == Doubt.NO_SPEECH:
            self.handler = "no_speech"  # a false wake: "sorry?" would only talk over the room
            return ""
        self.handler = "ask_again"
        said = ask_again(self.turn_id)
        self.emit(EventKind.ASKED_TO_REPEAT, reason=self.doubt, said=said)
        return await self._speak(_single(said))

    async def _wait_played(self) -> None:
        if self._first_audio_t is None:
            return
        remaining = self._first_audio_t + self._audio_seconds - monotonic()
        try:
            await asyncio.wait_for(self.played.wait(), max(0.0, remaining) + self.services.settings.played_grace_s)
            self.emit(EventKind.PLAYED)
        except TimeoutError:
            _LOGGER.info("%s: no 'played' from the satellite; turn %s ends on time", self.session.id, self.turn_id)

    def spoken_text(self) -> str:
        """The sentences the satellite has had time to play completely, judged on the hub clock."""
        if self._first_audio_t is None:
            return ""
        elapsed = time.monotonic() - self._first_audio_t
        return " ".join(sentence for sentence, end in self._spoken if end <= elapsed)


async def _single(text: str) -> AsyncIterator[str]:
    yield text


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
