"""The satellite's behaviour: one audio loop, one hub connection, one phase at a time.

    paused     no hub has sent ``run-satellite`` (or it paused us)
    idle       echo-cancelled audio -> VAD gate -> wake word
    streaming  after a wake: audio to the hub until our end-of-speech detector says stop
    playing    the hub's answer plays; the wake word (or speech, when enabled) still counts,
               on echo-cancelled audio, and stops playback within one 80 ms block (barge-in)

The audio loop is the only task that reads audio; hub events arrive on the connection's
task; both run on the event loop, so state changes need no locks.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerFinished
from wyoming.vad import VoiceStopped

from common.log_limit import LogLimiter
from common.pcm import resample_pcm
from common.wyoming_peer import WyomingPeer
from protocol.audio import MIC_FORMAT, AudioFormatError, check_audio
from protocol.payloads import InterruptReason, SatellitePhase
from protocol.wyoming_events import InterruptEvent, TurnStarted, strips_wake_phrase
from satellite import __version__
from satellite.audio.backends import AudioBackend, AudioBlock
from satellite.audio.player import Player
from satellite.dsp.echo import EchoCanceller, MicCleanup
from satellite.dsp.sounds import SOUNDS, Sound
from satellite.dsp.vad import EndOfSpeech, SpeechDetector
from satellite.dsp.wake import PREROLL_BLOCKS, WakeDetector, WakeHit
from satellite.settings import SatelliteSettings

_LOGGER = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 30.0
"""After our end of speech, how long to wait for the hub's answer before an error sound."""
SPEECH_BARGE_IN_MS = 300.0
"""Speech over the answer this long counts as a barge-in (when enabled)."""
ECHO_TAIL_BLOCKS = 25
"""Keep cancelling echo this many 80 ms blocks after playback stops."""
BLOCK_MS = 80
"""One audio block (the wake model's frame)."""
OFF_LOOP_RESAMPLE_BYTES = 64 * 1024
"""Answer chunks bigger than this are resampled in a thread (a TTS chunk is about 4 KiB)."""
DRIVER_IDLE_S = 60.0
"""A driver heard from within this long keeps the satellite (our hub pings every 5 s); after it, a
new connection may replace a driver whose connection died without closing."""


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


class SatelliteCore:
    def __init__(self, settings: SatelliteSettings, player: Player, *, wake: WakeDetector,
                 vad: SpeechDetector, echo: EchoCanceller | None,
                 cleanup: MicCleanup | None = None) -> None:
        self.settings = settings
        self.player = player
        self.wake = wake
        self.vad = vad
        self.echo = echo
        self.cleanup = cleanup
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
        self._peer: WyomingPeer | None = None
        self._peer_heard = 0.0
        self.refused_drivers = 0
        self._log = LogLimiter(_LOGGER)
        self._eos: EndOfSpeech | None = None
        self._discarding = False
        self._speech_over_answer_ms = 0.0
        self._echo_tail_blocks = 0
        self._preroll_blocks = math.ceil(settings.wake.stream_preroll_ms / BLOCK_MS)
        self._driver_strips_wake = False
        """The connected driver said (in run-satellite) that it removes a leftover wake phrase."""
        # The last cleaned-up blocks, so a stream can start before the moment it was decided on: the wake
        # model fires late in the phrase (up to the gate's whole preroll late), and speech barge-in after 300 ms.
        self._recent: collections.deque[bytes] = collections.deque(
            maxlen=PREROLL_BLOCKS + max(self._preroll_blocks, math.ceil(SPEECH_BARGE_IN_MS / BLOCK_MS) + 1))
        self.hub_ready = asyncio.Event()
        """Set once a hub has sent run-satellite (file backends wait for it)."""
        self._answer_deadline: float | None = None
        self._background: set[asyncio.Future[None]] = set()

    # -- phase -------------------------------------------------------------------------------
    def _set_phase(self, phase: SatellitePhase) -> None:
        if phase is not self.phase:
            _LOGGER.debug("phase %s -> %s", self.phase, phase)
            self.phase = phase
            self.on_phase(phase)

    @property
    def name(self) -> str:
        return self.settings.name or self.settings.id

    def info(self) -> Info:
        attribution = Attribution(name="hearth", url="https://github.com/hearth-voice")
        return Info(satellite=Satellite(
            name=self.settings.id, attribution=attribution, installed=True, description=self.name,
            version=__version__, area=self.settings.area or self.settings.id, has_vad=True,
            active_wake_words=[self.wake.wake_word], max_active_wake_words=1, supports_trigger=True,
        ))

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
        audio = self._cancel_echo(block)
        if self.cleanup is not None:
            audio = self.cleanup.process(audio)
        speech = self.vad.is_speech(audio)
        self._recent.append(audio)
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
        elif self.phase is SatellitePhase.PLAYING:
            await self._listen_over_answer(audio, speech, block.t)

    def _cancel_echo(self, block: AudioBlock) -> bytes:
        """AEC while something plays and for 2 s after (the room's echo tail); idle rooms skip it."""
        if self.echo is None:
            return block.mic
        if block.played.count(0) != len(block.played):
            self._echo_tail_blocks = ECHO_TAIL_BLOCKS
        elif self._echo_tail_blocks == 0:
            return block.mic
        else:
            self._echo_tail_blocks -= 1
        return self.echo.process(block.mic, block.played)

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
            self._speech_over_answer_ms = self._speech_over_answer_ms + 80 if speech else 0.0
            if self._speech_over_answer_ms >= SPEECH_BARGE_IN_MS:
                self._speech_over_answer_ms = 0.0
                await self.barge_in(InterruptReason.SPEECH, t)
                # The speech that decided it is the start of the command: stream it too.
                await self.start_streaming(None, preroll_blocks=math.ceil(SPEECH_BARGE_IN_MS / BLOCK_MS) + 1)

    async def _stream(self, audio: bytes, speech: bool) -> None:
        await self._send(AudioChunk(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels,
                                    audio=audio).event())
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
        if self._peer is None:
            _LOGGER.info("wake word heard, but no hub is connected")
            self.play_sound(Sound.ERROR)
            return
        self.counters.turns += 1
        preroll: list[bytes] = []
        if hit is not None:
            # Only a driver that cuts the wake phrase from its transcripts (our hub) gets it; Home Assistant's
            # agent would not understand "hey Jarvis, what time is it", so it gets the stream from after the wake.
            preroll_blocks = self._preroll_blocks if self._driver_strips_wake else 0
            # Blocks after the one the model fired in belong to the stream whatever the setting.
            back = hit.blocks_back + preroll_blocks
            if back:
                preroll = list(self._recent)[-back:]
            preroll_blocks = max(0, len(preroll) - hit.blocks_back)
        elif preroll_blocks:
            preroll = list(self._recent)[-preroll_blocks:]
        if hit is not None:
            self.counters.wakes += 1
            if not already_reported:
                self.on_wake(hit, False)
            # Wyoming's detection, plus score and level for the hub's room arbitration.
            # preroll_ms: how much of the stream was heard before the model fired (the wake phrase's tail
            # is in it; the hub removes it from the transcript).
            detection: dict[str, object] = {"name": hit.wake_word, "score": hit.score, "level_dbfs": hit.level_dbfs,
                                            "preroll_ms": preroll_blocks * BLOCK_MS}
            if hit.near_miss is not None:
                detection["near_miss"] = hit.near_miss
            await self._send(Event(type="detection", data=detection))
        self.play_sound(Sound.WAKE)
        self._discarding = False
        self._eos = EndOfSpeech(self.silence_ms, self.settings.vad.no_speech_ms, self.settings.vad.max_ms)
        self._answer_deadline = None
        self._set_phase(SatellitePhase.STREAMING)
        await self._send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await self._send(AudioStart(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels).event())
        for audio in preroll:  # not fed to the end-of-speech detector: it times what comes after the wake
            await self._send(AudioChunk(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels,
                                        audio=audio).event())

    async def barge_in(self, reason: InterruptReason, detected_t: float) -> None:
        """Stop the answer now, locally, then tell the hub (Wyoming) and the house (MQTT)."""
        self.player.stop()
        self._discarding = True  # what the hub already sent of the old answer must not play
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
        if muted and self.phase is SatellitePhase.STREAMING:
            self._eos = None
            self._set_phase(SatellitePhase.IDLE)
        self.on_phase(self.phase)  # state (with mute) is re-published

    # -- the hub connection ----------------------------------------------------------------
    async def serve_hub(self, peer: WyomingPeer) -> None:
        """Run one driver's connection until it closes. One driver at a time: while the current one
        is alive (heard from within ``DRIVER_IDLE_S``), a second is refused with a Wyoming ``error``
        (code ``already_driven``) instead of taking the microphone; ``[wyoming] takeover`` makes the
        newest connection win instead."""
        old = self._peer
        if old is not None:
            silent_s = time.monotonic() - self._peer_heard
            if not (self.settings.wyoming.takeover or old.closed or silent_s > DRIVER_IDLE_S):
                self.refused_drivers += 1
                self._log.warning("second driver", "refused %s: driven by %s (heard %.0f s ago)", peer.label,
                                  old.label, silent_s)
                with contextlib.suppress(ConnectionError):
                    await peer.send(Error(text=f"{self.name} is driven by {old.label}", code="already_driven").event())
                return
            _LOGGER.info("%s replaces %s (%s)", peer.label, old.label,
                         "takeover" if self.settings.wyoming.takeover else f"silent for {silent_s:.0f} s")
            self._peer = None
            await old.close()
        self._peer, self._peer_heard = peer, time.monotonic()
        self._driver_strips_wake = False  # until this driver's run-satellite says otherwise
        _LOGGER.info("hub connected: %s", peer.label)
        try:
            while (event := await peer.read()) is not None:
                self._peer_heard = time.monotonic()
                try:
                    await self.handle_hub_event(event)
                except Exception:  # a bad event from the hub must not drop the connection
                    _LOGGER.exception("failed to handle %s from the hub", event.type)
        finally:
            if self._peer is peer:
                self._hub_lost()

    def _hub_lost(self) -> None:
        self._peer = None
        busy = self.phase in (SatellitePhase.STREAMING, SatellitePhase.PLAYING) or self._answer_deadline is not None
        self.player.stop()
        self._eos = None
        self._answer_deadline = None
        if busy:
            _LOGGER.warning("the hub went away mid-turn")
            self.play_sound(Sound.ERROR)
        self._set_phase(SatellitePhase.PAUSED)

    async def _send(self, event: Event) -> None:
        peer = self._peer
        if peer is None:
            return
        try:
            await peer.send(event)
        except ConnectionError:
            _LOGGER.info("hub connection closed while sending %s", event.type)

    async def handle_hub_event(self, event: Event) -> None:
        kind = event.type
        if AudioChunk.is_type(kind):
            if not self._discarding and self.phase is SatellitePhase.PLAYING:
                data, audio = event.data or {}, event.payload or b""
                try:
                    fmt = check_audio(data.get("rate"), data.get("width"), data.get("channels"), len(audio))
                    if fmt.channels != 1:
                        raise AudioFormatError("answer audio must be mono")
                except AudioFormatError as err:
                    self._log.warning("bad audio", "refused answer audio: %s", err)
                    await self._send(Error(text=str(err), code=err.code).event())
                    return
                if fmt.rate != MIC_FORMAT.rate and len(audio) > OFF_LOOP_RESAMPLE_BYTES:
                    # A big chunk takes a while to resample (1 MiB at 8 kHz: 250 ms on a PC), and this loop
                    # also runs the microphone: resample in a thread, then add it unless the answer was
                    # interrupted meanwhile (chunks stay in order: this connection waits for it).
                    audio = await asyncio.to_thread(resample_pcm, audio, fmt.rate, MIC_FORMAT.rate)
                    if self._discarding or self.phase is not SatellitePhase.PLAYING:
                        return
                    fmt = MIC_FORMAT
                self.player.add(audio, fmt.rate)
        elif AudioStart.is_type(kind):
            self._discarding = False
            self._answer_deadline = None
            if self.phase is SatellitePhase.STREAMING:
                await self._end_of_speech("hub")
            self.player.begin()
            self._set_phase(SatellitePhase.PLAYING)
        elif AudioStop.is_type(kind):
            if self.phase is SatellitePhase.PLAYING and not self._discarding:
                loop = asyncio.get_running_loop()

                def drained() -> None:  # runs in the audio thread
                    loop.call_soon_threadsafe(self._answer_played)

                self.player.end(on_drained=drained)
        elif InterruptEvent.is_type(kind):
            self.player.stop()
            self._discarding = True
            if self.phase is SatellitePhase.STREAMING:
                self._eos = None
            if self.phase is not SatellitePhase.PAUSED:
                self._set_phase(SatellitePhase.IDLE)
        elif Transcript.is_type(kind) or VoiceStopped.is_type(kind):
            if self.phase is SatellitePhase.STREAMING:
                await self._end_of_speech("hub")
            if Transcript.is_type(kind) and not Transcript.from_event(event).text:
                self._answer_deadline = None  # nothing was heard: nothing will be answered
        elif TurnStarted.is_type(kind):
            self.turn_id = TurnStarted.from_event(event).turn_id
        elif Describe.is_type(kind):
            await self._send(self.info().event())
        elif Ping.is_type(kind):
            await self._send(Pong(text=event.data.get("text")).event())
        elif RunSatellite.is_type(kind):
            self._driver_strips_wake = strips_wake_phrase(event)
            self.hub_ready.set()
            if self.phase is SatellitePhase.PAUSED:
                self._set_phase(SatellitePhase.IDLE)
        elif PauseSatellite.is_type(kind):
            self.player.stop()
            self._eos = None
            self._set_phase(SatellitePhase.PAUSED)
        elif Error.is_type(kind):
            _LOGGER.warning("hub reported an error: %s", event.data.get("text"))
            self._answer_deadline = None
            self.play_sound(Sound.ERROR)
            if self.phase is SatellitePhase.STREAMING:
                self._eos = None
                self._set_phase(SatellitePhase.IDLE)
        elif TimerFinished.is_type(kind):
            self.play_sound(Sound.TIMER)

    def _answer_played(self) -> None:
        if self.phase is SatellitePhase.PLAYING:
            self._set_phase(SatellitePhase.IDLE)
        task = asyncio.ensure_future(self._send(Played().event()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drop_driver(self, reason: str) -> str | None:
        """A deliberate take-over (a ``take_over`` command): close the current driver's connection so the
        next one is accepted; returns who was dropped."""
        peer = self._peer
        if peer is None or peer.closed:
            return None
        _LOGGER.warning("dropping %s: %s", peer.label, reason)
        await peer.close()  # serve_hub's loop ends and pauses us until the next driver runs us
        return peer.label

    async def close(self) -> None:
        peer, self._peer = self._peer, None
        if peer is not None:
            with contextlib.suppress(Exception):
                await peer.close()
