"""The satellite process: audio loop, Wyoming server, MQTT; owns and cancels every task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from common.mqtt import MqttLink
from common.systemd_notify import feed_watchdog, notify
from protocol.topics import SatelliteTopic, Topics
from satellite.audio.backends import AudioBackend, FileBackend, open_backend
from satellite.audio.player import Player
from satellite.core import SatelliteCore
from satellite.dsp.echo import EchoCanceller, MicCleanup, WebRtcEchoCanceller
from satellite.dsp.linear_echo import LinearEchoCanceller
from satellite.dsp.vad import speech_detector
from satellite.dsp.wake import WakeDetector
from satellite.mqtt_bridge import SatelliteBridge
from satellite.server import WyomingServer
from satellite.settings import SatelliteSettings

_LOGGER = logging.getLogger(__name__)


def build_core(settings: SatelliteSettings, player: Player) -> SatelliteCore:
    """Loads the wake, VAD and echo models (blocking, a second or two)."""
    wake = WakeDetector(settings.wake.model, settings.wake.threshold, settings.wake.refractory_s,
                        gated=settings.wake.vad_gate, phases=settings.wake.phases)
    vad = speech_detector(settings.vad.engine, settings.vad.threshold, settings.vad.aggressiveness,
                          noise_margin_db=settings.vad.noise_margin_db, noise_window_s=settings.vad.noise_window_s)
    barge = settings.barge_in
    echo: EchoCanceller | None = None
    if barge.echo_cancel:
        echo = LinearEchoCanceller() if barge.echo_canceller == "linear" else WebRtcEchoCanceller()
    cleanup = (MicCleanup(noise_suppression=barge.noise_suppression, auto_gain=barge.auto_gain)
               if barge.noise_suppression or barge.auto_gain else None)
    return SatelliteCore(settings, player, wake=wake, vad=vad, echo=echo, cleanup=cleanup)


class SatelliteApp:
    def __init__(self, settings: SatelliteSettings) -> None:
        self.settings = settings
        self.player = Player(settings.volume)
        self.core = build_core(settings, self.player)
        self.backend: AudioBackend | None = None
        self.server = WyomingServer(settings.wyoming, self.core)
        topics = Topics(settings.mqtt.root)
        self.link = MqttLink(settings.mqtt, f"hearth-satellite-{settings.id}",
                             availability_topic=topics.satellite(settings.id, SatelliteTopic.AVAILABILITY))
        self.bridge: SatelliteBridge | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._audio_task: asyncio.Task[None] | None = None

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def start(self) -> None:
        self.backend = open_backend(self.settings.audio, self.player, self.core.hub_ready)
        await self.server.start()
        if self.settings.mqtt.enabled:
            self.bridge = SatelliteBridge(self.link, self.core, self.server.port,
                                          lambda: self.backend.frames_dropped if self.backend else 0)
            self.bridge.announce()
            self._spawn(self.link.run(), "mqtt")
            self._spawn(self.bridge.publish_metrics(self.settings.metrics_interval_s), "metrics")
        self._audio_task = self._spawn(self.core.run_audio(self.backend), "audio")
        self._spawn(feed_watchdog(lambda: self._audio_task is not None and not self._audio_task.done()), "watchdog")
        notify("READY=1\nSTATUS=listening")
        _LOGGER.info("satellite %s ready (wake word %s)", self.settings.id, self.core.wake.wake_word)

    async def wait(self) -> None:
        """Until the audio ends (file backend with exit_at_end) or forever."""
        if isinstance(self.backend, FileBackend) and self.settings.audio.exit_at_end:
            await self.backend.finished.wait()
        else:
            await asyncio.Event().wait()

    async def close(self) -> None:
        notify("STOPPING=1")
        await self.server.close()
        await self.core.close()
        if self.link.connected.is_set():
            await self.link.flush(1.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.backend is not None:
            await self.backend.close()
