"""One conversation turn: audio in, answer out, streaming at every step.

    listen  -> audio chunks until the satellite's ``audio-stop`` or the hub's endpointer (``listening``)
    think   -> STT; fast-path intent, or LLM tokens -> sentence chunker (``answering``)
    speak   -> each finished sentence goes to piper at once; its chunks go to the satellite
               while the LLM still writes the next sentence (``speaking``)

A turn is one task owned by its session (seen through ``turn_base.TurnSession``); an interrupt
cancels that task, which stops the LLM thread and TTS at their next step, and the turn
reports what was actually spoken so the conversation context holds only that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from common.errors import error_code as code_of
from hub.conversation.event_data import EndOfSpeech, Error, Interrupted, SpeechEnded, TurnEnded, TurnStarted
from hub.conversation.events import monotonic
from hub.pipeline.answering import Answering
from hub.pipeline.listening import Listening
from hub.pipeline.speaking import single
from hub.pipeline.turn_base import SatelliteGone, TurnSession
from protocol.payloads import InterruptReason, TurnOutcome
from protocol.wyoming_events import TurnStarted as TurnStartedEvent

__all__ = ["SatelliteGone", "Turn", "TurnSession"]

_LOGGER = logging.getLogger(__name__)


class Turn(Listening, Answering):
    async def run(self) -> None:
        outcome, error_code, response = TurnOutcome.DONE, None, ""
        listen = self._announce is None and self._given_text is None
        self.listening_done = not listen
        # A typed request passes through listening at once (its end of speech is now), so the state
        # machine sees the same listening -> thinking as for a spoken one; only announcements skip it.
        self.emit(TurnStarted(listen=self._announce is None, room=self.session.area, wake=self._wake))
        try:
            await self.session.send(TurnStartedEvent(self.turn_id).event())
            if self._announce is not None:
                self.handler = "announce"
                response = await self.speaker.speak(single(self._announce))
            else:
                if listen:
                    heard = await self._listen()
                    if heard is None:
                        outcome = TurnOutcome.TIMEOUT
                        return
                    self.transcript = heard
                else:
                    self.transcript = self._given_text or ""
                    self.emit(SpeechEnded(by=EndOfSpeech.TEXT, speech_end_t=monotonic()))
                    self.emit(self._hear(self.transcript, None, audio_ms=0.0, stt_ms=0.0))
                response = await self._answer(self.transcript)
            await self._wait_played()
        except asyncio.CancelledError:
            outcome = TurnOutcome.INTERRUPTED
            response = self.spoken_text()
            self.emit(Interrupted(reason=self.interrupt_reason or InterruptReason.HUB, spoken=response))
            raise
        except SatelliteGone as err:
            # The satellite went away mid-turn: whether its socket or the link's disconnect notices first,
            # the person was cut off, not failed by the hub.
            outcome = TurnOutcome.INTERRUPTED
            response = self.spoken_text()
            _LOGGER.info("%s: turn %s ended, satellite lost: %s", self.session.id, self.turn_id, err)
            self.emit(Interrupted(reason=InterruptReason.SATELLITE_LOST, spoken=response))
        except Exception as err:
            outcome, error_code = TurnOutcome.ERROR, code_of(err)
            _LOGGER.warning("%s: turn %s failed: %s", self.session.id, self.turn_id, err)
            self.emit(Error(code=error_code, message=str(err)))
            with contextlib.suppress(Exception):
                await self.session.send_error(str(err), error_code)
        finally:
            self.emit(TurnEnded(outcome=outcome, transcript=self.transcript, response=response, handler=self.handler,
                                error_code=error_code, audio_dropped=self.audio_dropped))
            if self.transcript and self.doubt is None and outcome in (TurnOutcome.DONE, TurnOutcome.INTERRUPTED):
                self.session.remember(self.heard.text if self.heard else self.transcript, response)
            if self._speculative is not None:
                await self._drop_speculative()  # a turn that did not reach the LLM leaves no model work behind

    async def _wait_played(self) -> None:
        played = await self.speaker.wait_played(self.played, self.services.settings.played_grace_s)
        if played is False:
            _LOGGER.info("%s: no 'played' from the satellite; turn %s ends on time", self.session.id, self.turn_id)

    def spoken_text(self) -> str:
        """The sentences the satellite has had time to play completely, judged on the hub clock."""
        return self.speaker.spoken_text()
