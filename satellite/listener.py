"""The listening loop: what each 80 ms block means in the current phase, and the command streamed to the hub.

    paused     no hub has sent ``run-satellite`` (or it paused us)
    idle       echo-cancelled audio -> VAD gate -> wake word
    streaming  after a wake: audio to the hub until our end-of-speech detector says stop
    playing    the hub's answer plays; the wake word (or speech, when enabled) still counts,
               on echo-cancelled audio, and stops playback within one 80 ms block (barge-in)

:class:`satellite.core.SatelliteCore` adds what the hub's events do to these phases.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.pipeline import PipelineStage, RunPipeline

from protocol.audio import MIC_FORMAT
from protocol.payloads import InterruptReason, SatellitePhase
from protocol.wyoming_events import DetectionEvent, InterruptEvent
from satellite.audio.backends import AudioBackend, AudioBlock
from satellite.audio.player import Player
from satellite.driver import HubDriver
from satellite.dsp.echo import EchoCanceller, MicCleanup
from satellite.dsp.sounds import SOUNDS, Sound
from satellite.dsp.vad import EndOfSpeech, SpeechDetector
from satellite.dsp.wake import PREROLL_BLOCKS, WakeDetector, WakeHit
from satellite.frontend import BLOCK_MS, MicFrontEnd
from satellite.playback import AnswerPlayback
from satellite.settings import SatelliteSettings

_LOGGER = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 30.0
"""After our end of speech, how long to wait for the hub's answer before an error sound."""
SPEECH_BARGE_IN_MS = 300.0
"""Speech over the answer this long counts as a barge-in (when enabled)."""
SPEECH_BARGE_IN_BLOCKS = math.ceil(SPEECH_BARGE_IN_MS / BLOCK_MS) + 1
"""Blocks streamed from before a speech barge-in was decided: the speech that decided it."""


@dataclass
class Counters:
    wakes: int = 0
    false_wakes: int = 0
    barge_ins: int = 0
    turns: int = 0
    blocks: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class BargeIn:
    reason: InterruptReason
    turn_id: str | None
    detected_t: float
    """Monotonic time of the block in which it was detected."""
    stopped_t: float
    """Monotonic time playback had been emptied."""


class Listener:
    def __init__(self, settings: SatelliteSettings, player: Player, *, wake: WakeDetector,
                 vad: SpeechDetector, echo: EchoCanceller | None,
                 cleanup: MicCleanup | None = None) -> None:
        self.settings = settings
        self.player = player
        self.wake = wake
        self.phase = SatellitePhase.PAUSED
        self.muted = settings.muted
        self.counters = Counters()
        self.turn_id: str | None = None
        self.barge_ins: list[BargeIn] = []
        self.silence_ms = settings.vad.silence_ms
        # Hooks for the MQTT bridge (and tests); each must be quick.
        self.on_phase: Callable[[SatellitePhase], None] = lambda phase: None
        self.on_wake: Callable[[WakeHit, bool], None] = lambda hit, during_playback: None
        self.on_interrupt: Callable[[InterruptReason, str | None], None] = lambda reason, turn_id: None
        self.driver = HubDriver(settings)
        self._send = self.driver.send
        self.playback = AnswerPlayback(player, self._send)
        self._preroll_blocks = math.ceil(settings.wake.stream_preroll_ms / BLOCK_MS)
        # The wake model fires up to the gate's whole preroll late; speech barge-in after 300 ms.
        self.mic = MicFrontEnd(vad, echo, cleanup,
                               keep_blocks=PREROLL_BLOCKS + max(self._preroll_blocks, SPEECH_BARGE_IN_BLOCKS))
        self._eos: EndOfSpeech | None = None
        self._speech_over_answer_ms = 0.0
        self._driver_strips_wake = False
        """The connected driver said (in run-satellite) that it removes a leftover wake phrase."""
        self._answer_deadline: float | None = None
        self.listen_pending = False
        """The hub's ``listen``: start streaming once idle (the answer played); any other turn drops it."""

    @property
    def vad(self) -> SpeechDetector:
        return self.mic.vad

    def _set_phase(self, phase: SatellitePhase) -> None:
        if phase is not self.phase:
            _LOGGER.debug("phase %s -> %s", self.phase, phase)
            self.phase = phase
            self.on_phase(phase)

    def play_sound(self, sound: Sound) -> None:
        if self.settings.sounds:
            self.player.play_now(SOUNDS[sound])

    # -- the audio loop ----------------------------------------------------------------------
    async def run_audio(self, backend: AudioBackend) -> None:
        async for block in backend.blocks():
            try:
                await self._on_block(block)
            except Exception:  # one bad block must not stop the microphone
                _LOGGER.exception("audio block failed")

    async def _on_block(self, block: AudioBlock) -> None:
        self.counters.blocks += 1
        audio, speech = self.mic.hear(block)
        if self._answer_deadline is not None and block.t > self._answer_deadline:
            self._answer_deadline = None
            _LOGGER.warning("no answer from the hub in %.0f s", ANSWER_TIMEOUT_S)
            self.play_sound(Sound.ERROR)
        if self.muted or self.phase is SatellitePhase.PAUSED:
            return
        if self.phase is SatellitePhase.STREAMING:
            await self._stream(audio, speech)
        elif self.phase is SatellitePhase.IDLE:
            hit = self.wake.process(audio, block.t, speech)
            if hit is not None:
                await self.start_streaming(hit)
            elif self.listen_pending and not self.player.playing:
                await self.start_streaming(None)
        elif self.phase is SatellitePhase.PLAYING:
            await self._listen_over_answer(audio, speech, block.t)

    async def _listen_over_answer(self, audio: bytes, speech: bool, t: float) -> None:
        barge = self.settings.barge_in
        if not barge.enabled:
            return
        hit = self.wake.process(audio, t, speech, gate=False, threshold=barge.wake_threshold)
        if hit is not None:
            await self.barge_in(InterruptReason.WAKE_WORD, hit.t)
            self.on_wake(hit, True)
            await self.start_streaming(hit, already_reported=True)
            return
        if barge.on_speech:
            self._speech_over_answer_ms = self._speech_over_answer_ms + BLOCK_MS if speech else 0.0
            if self._speech_over_answer_ms >= SPEECH_BARGE_IN_MS:
                self._speech_over_answer_ms = 0.0
                await self.barge_in(InterruptReason.SPEECH, t)
                # The speech that decided it is the start of the command: stream it too.
                await self.start_streaming(None, preroll_blocks=SPEECH_BARGE_IN_BLOCKS)

    # -- the command streamed to the hub ---------------------------------------------------
    async def _send_audio(self, audio: bytes) -> None:
        await self._send(AudioChunk(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels,
                                    audio=audio).event())

    async def _stream(self, audio: bytes, speech: bool) -> None:
        await self._send_audio(audio)
        eos = self._eos
        if eos is not None and eos.feed(audio, speech):
            await self._end_of_speech(eos.reason or "silence")

    async def _end_of_speech(self, reason: str) -> None:
        _LOGGER.info("end of speech (%s)", reason)
        if reason == "no_speech":
            self.counters.false_wakes += 1
        await self._send(AudioStop().event())
        self._eos = None
        self._answer_deadline = time.monotonic() + ANSWER_TIMEOUT_S
        self._set_phase(SatellitePhase.IDLE)

    async def start_streaming(self, hit: WakeHit | None, *, already_reported: bool = False,
                              preroll_blocks: int = 0) -> None:
        """A turn starts: after the wake word, a barge-in or a start_conversation command.

        After a wake, the stream starts ``[wake] stream_preroll_ms`` before the block in which the model
        fired ended (so a command said without a pause keeps its first word); otherwise it starts
        ``preroll_blocks`` blocks back (0: with the next block).
        """
        self.listen_pending = False  # this turn is the follow-up, or came before it (a wake, a barge-in)
        if self.driver.peer is None:
            _LOGGER.info("wake word heard, but no hub is connected")
            self.play_sound(Sound.ERROR)
            return
        self.counters.turns += 1
        if hit is not None:
            # Only a driver that cuts the wake phrase from its transcripts (our hub) gets it; Home Assistant's
            # agent would not understand "hey Jarvis, what time is it", so it gets the stream from after the wake.
            wake_preroll = self._preroll_blocks if self._driver_strips_wake else 0
            # Blocks after the one the model fired in belong to the stream whatever the setting.
            preroll = self.mic.recent(hit.blocks_back + wake_preroll)
            self.counters.wakes += 1
            if not already_reported:
                self.on_wake(hit, False)
            await self._send(DetectionEvent(
                name=hit.wake_word, score=hit.score, level_dbfs=hit.level_dbfs, near_miss=hit.near_miss,
                preroll_ms=max(0, len(preroll) - hit.blocks_back) * BLOCK_MS).event())
        else:
            preroll = self.mic.recent(preroll_blocks)
        self.play_sound(Sound.WAKE)
        self.playback.discarding = False
        self._eos = EndOfSpeech(self.silence_ms, self.settings.vad.no_speech_ms, self.settings.vad.max_ms)
        self._answer_deadline = None
        self._set_phase(SatellitePhase.STREAMING)
        await self._send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await self._send(AudioStart(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels).event())
        for audio in preroll:  # not fed to the end-of-speech detector: it times what comes after the wake
            await self._send_audio(audio)

    # -- stopping -------------------------------------------------------------------------
    async def barge_in(self, reason: InterruptReason, detected_t: float) -> None:
        """Stop the answer now, locally, then tell the hub (Wyoming) and the house (MQTT)."""
        self.playback.stop()  # what the hub already sent of the old answer must not play
        self.listen_pending = False
        stopped_t = time.monotonic()
        self.barge_ins.append(BargeIn(reason, self.turn_id, detected_t, stopped_t))
        self.counters.barge_ins += 1
        _LOGGER.info("barge-in (%s): playback stopped %.0f ms after detection", reason,
                     1000 * (stopped_t - detected_t))
        await self._send(InterruptEvent(reason=reason, turn_id=self.turn_id).event())
        self.on_interrupt(reason, self.turn_id)
        self._set_phase(SatellitePhase.IDLE)

    async def stop(self, reason: InterruptReason = InterruptReason.COMMAND) -> bool:
        """The ``stop`` command: end playback or streaming; True if there was something to stop."""
        if self.phase is SatellitePhase.PLAYING or self.player.playing:
            await self.barge_in(reason, time.monotonic())
            return True
        if self.phase is SatellitePhase.STREAMING:
            self._eos = None
            await self._send(AudioStop().event())
            await self._send(InterruptEvent(reason=reason, turn_id=self.turn_id).event())
            self.on_interrupt(reason, self.turn_id)
            self._set_phase(SatellitePhase.IDLE)
            return True
        return False

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.listen_pending = self.listen_pending and not muted
        if muted and self.phase is SatellitePhase.STREAMING:
            self._eos = None
            self._set_phase(SatellitePhase.IDLE)
        self._state_changed()

    def _state_changed(self) -> None:
        """Mute (or volume) changed: MQTT re-publishes the state (through ``on_phase``)."""
        self.on_phase(self.phase)

    def _hub_lost(self) -> None:
        busy = self.phase in (SatellitePhase.STREAMING, SatellitePhase.PLAYING) or self._answer_deadline is not None
        self.player.stop()
        self._eos = None
        self._answer_deadline = None
        self.listen_pending = False
        if busy:
            _LOGGER.warning("the hub went away mid-turn")
            self.play_sound(Sound.ERROR)
        self._set_phase(SatellitePhase.PAUSED)

