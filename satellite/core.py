"""The satellite's behaviour: one audio loop, one hub connection, one phase at a time.

The audio loop is the only task that reads audio; hub events arrive on the connection's task; both
run on the event loop, so state changes need no locks. The parts, one job each:

- satellite/frontend.py   each block echo-cancelled, cleaned up, judged speech or not, kept for pre-roll
- satellite/listener.py   the phases, what a block means in each, the command streamed to the hub, barge-in
- satellite/playback.py   the hub's answer audio
- satellite/driver.py     the driver's Wyoming connection (one at a time)
- satellite/control.py    our hub's control extension (volume, mute, tuning over Wyoming)
- this module             what each of the hub's events does (:class:`SatelliteCore`)
"""

from __future__ import annotations

import asyncio
import logging

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerFinished
from wyoming.vad import VoiceStopped

from common.wyoming_peer import WyomingPeer
from protocol.payloads import SatellitePhase
from protocol.wyoming_events import InterruptEvent, SatelliteStateEvent, TurnStarted, strips_wake_phrase
from satellite.audio.player import Player
from satellite.control import apply_control, is_control
from satellite.driver import satellite_info
from satellite.dsp.echo import EchoCanceller, MicCleanup
from satellite.dsp.sounds import Sound
from satellite.dsp.vad import SpeechDetector
from satellite.dsp.wake import WakeDetector
from satellite.listener import SPEECH_BARGE_IN_MS, BargeIn, Counters, Listener
from satellite.settings import SatelliteSettings

_LOGGER = logging.getLogger(__name__)

__all__ = ["SPEECH_BARGE_IN_MS", "BargeIn", "Counters", "SatelliteCore", "SatellitePhase"]


class SatelliteCore(Listener):
    """The listener, driven by one hub over Wyoming."""

    def __init__(self, settings: SatelliteSettings, player: Player, *, wake: WakeDetector,
                 vad: SpeechDetector, echo: EchoCanceller | None,
                 cleanup: MicCleanup | None = None) -> None:
        super().__init__(settings, player, wake=wake, vad=vad, echo=echo, cleanup=cleanup)
        self.hub_ready = asyncio.Event()
        """Set once a hub has sent run-satellite (file backends wait for it)."""

    @property
    def _peer(self) -> WyomingPeer | None:
        """The driver's connection (tests and the testbed look at it)."""
        return self.driver.peer

    @property
    def refused_drivers(self) -> int:
        return self.driver.refused

    @property
    def name(self) -> str:
        return self.settings.name or self.settings.id

    def info(self) -> Info:
        return satellite_info(self.settings, self.wake.wake_word)

    # -- volume and tuning (MQTT commands and our Wyoming control extension; mute is the listener's) --
    def set_volume(self, volume: int) -> None:
        self.player.volume = volume
        self._state_changed()

    def tune(self, wake_threshold: float | None, end_of_speech_silence_ms: int | None) -> None:
        """What the hub's learning decided for this room (None keeps the current value)."""
        if wake_threshold is not None:
            self.wake.threshold = wake_threshold
        if end_of_speech_silence_ms is not None:
            self.silence_ms = end_of_speech_silence_ms
        _LOGGER.info("tuned: wake threshold %.2f, end-of-speech silence %d ms", self.wake.threshold, self.silence_ms)

    def listen_after_playback(self) -> None:
        """The hub asked the person to repeat: open the microphone once its answer has played, as the
        ``start_conversation`` command does (the audio loop starts it: satellite/listener.py)."""
        if self.muted or self.phase in (SatellitePhase.STREAMING, SatellitePhase.PAUSED):
            _LOGGER.info("listen from the hub dropped (%s)", "muted" if self.muted else self.phase.value)
            return
        self.listen_pending = True

    def _state_changed(self) -> None:
        """Volume or mute changed: MQTT re-publishes the state (on_phase), the hub hears it over Wyoming."""
        super()._state_changed()
        self.driver.send_soon(self.state_event())

    def state_event(self) -> Event:
        return SatelliteStateEvent(volume=self.player.volume, muted=self.muted).event()

    # -- the hub connection ----------------------------------------------------------------
    async def serve_hub(self, peer: WyomingPeer) -> None:
        """Run one driver's connection until it closes (or refuse it: satellite/driver.py)."""
        await self.driver.serve(peer, lambda event: self.handle_hub_event(event), self._hub_connected,
                                self._hub_lost)

    def _hub_connected(self) -> None:
        self._driver_strips_wake = False  # until this driver's run-satellite says otherwise

    async def handle_hub_event(self, event: Event) -> None:
        kind = event.type
        if AudioChunk.is_type(kind):
            await self.playback.add(event, lambda: self.phase is SatellitePhase.PLAYING)
        elif AudioStart.is_type(kind):
            self._answer_deadline = None
            if self.phase is SatellitePhase.STREAMING:
                await self._end_of_speech("hub")
            self.playback.begin()
            self._set_phase(SatellitePhase.PLAYING)
        elif AudioStop.is_type(kind):
            if self.phase is SatellitePhase.PLAYING:
                self.playback.end(self._answer_played)
        elif InterruptEvent.is_type(kind):
            self.playback.stop()
            self.listen_pending = False
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
            await self._send(self.state_event())  # the driver's volume starts from ours (a stock driver ignores it)
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
        elif is_control(kind):
            apply_control(event, self, self.driver.send_soon)

    def _answer_played(self) -> None:
        if self.phase is SatellitePhase.PLAYING:
            self._set_phase(SatellitePhase.IDLE)
        self.driver.send_soon(Played().event())

    async def drop_driver(self, reason: str) -> str | None:
        """A deliberate take-over (a ``take_over`` command): close the current driver's connection so the
        next one is accepted; returns who was dropped."""
        return await self.driver.drop(reason)

    async def close(self) -> None:
        await self.driver.close()
