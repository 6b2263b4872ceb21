"""A turn's ears: microphone audio until the end of speech, then what was heard and whether to act on it.

Audio arrives until the satellite's ``audio-stop``, the hub's endpointer, a complete command's
shorter window (an early commit on a speculative transcript), the length cap or a silent link.
"""

from __future__ import annotations

import asyncio
import contextlib

from wyoming.asr import Transcript as WyomingTranscript
from wyoming.vad import VoiceStarted, VoiceStopped

from hub.conversation.event_data import EndOfSpeech, SpeechEnded, SpeechStarted, Transcript
from hub.conversation.events import monotonic
from hub.pipeline.endpointing import Endpointer
from hub.pipeline.ports import Transcription
from hub.pipeline.speculation import EarlyTranscript
from hub.pipeline.transcript import Confidence, clean, doubt, wake_phrase
from hub.pipeline.turn_base import AUDIO_STOPPED, GUESS_READY, TurnBase
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT


class Listening(TurnBase):
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

    # -- listening ---------------------------------------------------------------------------
    async def _listen(self) -> str | None:
        """What the person said, or None if nobody spoke."""
        endpointer = Endpointer(self._endpoint)
        stats = self.services.speculation
        early = EarlyTranscript(self.services.stt, self.session.id, self.services.settings.early_stt_ms,
                                vocabulary=self._wake_vocabulary(), judge=self._judge,
                                on_judged=self._guess_judged)
        # A complete command may end listening sooner; never later than the full window.
        command_ms = min(self._endpoint.command_silence_ms, self._endpoint.silence_ms)
        try:
            pcm = bytearray()
            by = EndOfSpeech.HUB
            limit = MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS
            voice_started = False
            # The endpointer's max length bounds the wait, plus a margin for a satellite that stops sending.
            deadline = monotonic() + self._endpoint.max_ms / 1000 + 5.0
            while True:
                try:
                    item = await asyncio.wait_for(self.audio.get(), max(0.05, deadline - monotonic()))
                except TimeoutError:
                    by = EndOfSpeech.TIMEOUT
                    break
                if item is GUESS_READY:
                    if command_ms and early.commit_due(endpointer, command_ms):
                        by = EndOfSpeech.COMMAND
                        break
                    continue
                if item is AUDIO_STOPPED:
                    by = EndOfSpeech.SATELLITE
                    break
                assert isinstance(item, bytes)
                if len(pcm) + len(item) > limit:
                    by = EndOfSpeech.MAX_LENGTH
                    break
                pcm += item
                if endpointer.feed(item, monotonic()):
                    by = EndOfSpeech(endpointer.reason) if endpointer.reason else EndOfSpeech.HUB
                    break
                if endpointer.heard_speech and not voice_started:
                    voice_started = True
                    self.emit(SpeechStarted())
                    await self.session.send(VoiceStarted().event())
                dropped = early.update(endpointer, pcm)
                if dropped is not None:
                    stats.early_discarded += 1  # the person spoke again: the guess, and work started on it, go
                    stats.commands_continued += dropped == "command"
                    if self._speculative is not None:
                        await self._drop_speculative()
                if command_ms and early.commit_due(endpointer, command_ms):
                    by = EndOfSpeech.COMMAND
                    break
            self.listening_done = True
            decided = monotonic()
            if by is EndOfSpeech.COMMAND:
                stats.early_commits += 1
            speech_end_t = endpointer.speech_end_t if endpointer.speech_end_t is not None else decided
            self.emit(SpeechEnded(
                by=by, speech_end_t=speech_end_t, speech_ms=endpointer.speech_end_audio_ms or 0.0,
                audio_ms=MIC_FORMAT.duration_ms(len(pcm)), pause_ms=endpointer.longest_pause_ms,
                silence_ms=float(self._endpoint.silence_ms), command_silence_ms=float(command_ms),
                command_guessed=early.command_guessed, command_continued_ms=early.continued_ms))
            self.services.on_turn_audio(self.session.id, self.turn_id, bytes(pcm))
            await self.session.send(VoiceStopped().event())
            if not endpointer.heard_speech and by is not EndOfSpeech.SATELLITE:
                await self.session.send(WyomingTranscript(text="").event())
                return None
            result = await early.result(endpointer, pcm)
            self.emit(self._hear(result.text, result, audio_ms=result.audio_ms, stt_ms=result.compute_ms,
                                 early=early.used))
            await self.session.send(WyomingTranscript(text=result.text).event())
            return result.text
        finally:
            early.cancel()  # an interrupted turn leaves no speculative work behind

    def _wake_vocabulary(self) -> tuple[str, ...]:
        """The wake phrase for whisper ("Hey Jarvis") when the stream holds it (the satellite's ``preroll_ms``):
        it is then spelled so it can be cut (bench.stt_commands: WER 40.4 -> 26.8 %). A stock satellite streams
        from after the wake, and there the phrase would only cost (20.4 -> 23.6 %)."""
        if self._wake is None:
            return ()
        phrase = wake_phrase(self._wake.wake_word)
        return (phrase.title(),) if phrase and self._wake.preroll_ms else ()

    def _hear(self, text: str, result: Transcription | None, *, audio_ms: float, stt_ms: float,
              early: bool = False) -> Transcript:
        """Clean and judge what was heard (``hub.pipeline.transcript``); the TRANSCRIPT event saying so."""
        self.heard = clean(text, self._wake_word())
        confidence = None if result is None else Confidence(result.avg_logprob, result.no_speech_prob)
        self.doubt = doubt(self.heard, confidence, self.services.settings.doubt) if text.strip() else None
        if result is None:
            return Transcript(text=text, audio_ms=audio_ms, stt_ms=stt_ms, cleaned=self.heard.text, doubt=self.doubt,
                              early=early)
        return Transcript(text=text, audio_ms=audio_ms, stt_ms=stt_ms, cleaned=self.heard.text, doubt=self.doubt,
                          early=early, avg_logprob=round(result.avg_logprob, 3),
                          no_speech_prob=round(result.no_speech_prob, 3),
                          compression_ratio=round(result.compression_ratio, 2))
