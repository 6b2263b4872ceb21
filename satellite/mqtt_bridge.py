"""The satellite on MQTT: announce (retained, last will), state, wakes, interrupts, metrics; obeys commands.

Commands pass through :class:`common.command_intake.CommandIntake` first: each id runs once,
retained and malformed commands are refused with an ``error`` result, and every result is
published as ``essential`` (the link holds incoming commands rather than drop a result).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from common import models
from common.command_intake import CommandIntake, Refusal
from common.mqtt import Delivery, MqttLink
from protocol.commands import (
    SATELLITE_OWNED,
    MuteCommand,
    StartConversationCommand,
    StopCommand,
    TakeOverCommand,
    TuneCommand,
    VolumeCommand,
    WakeWordCommand,
)
from protocol.payloads import (
    CommandResult,
    Interrupt,
    InterruptReason,
    ResultStatus,
    SatelliteAnnounce,
    SatelliteMetrics,
    SatellitePhase,
    SatelliteState,
    WakeDetection,
)
from protocol.topics import ALL_SATELLITES, SatelliteTopic
from satellite import __version__
from satellite.core import SatelliteCore
from satellite.dsp.wake import WakeDetector, WakeHit

_LOGGER = logging.getLogger(__name__)

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def cpu_temperature() -> float | None:
    try:
        return round(int(THERMAL_ZONE.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


class SatelliteBridge:
    def __init__(self, link: MqttLink, core: SatelliteCore, wyoming_port: int, frames_dropped: Any) -> None:
        self.link = link
        self.core = core
        self.topics = link.topics
        self.id = core.settings.id
        self._wyoming_port = wyoming_port
        self._frames_dropped = frames_dropped
        self._process = psutil.Process()
        self.intake = CommandIntake(self.topics, SATELLITE_OWNED, answer_unreadable=True)
        link.subscribe_deliveries(self.topics.command(self.id), self._on_delivery)
        link.subscribe_deliveries(self.topics.command(ALL_SATELLITES), self._on_delivery)
        core.on_phase = self._on_phase
        core.on_wake = self._on_wake
        core.on_interrupt = self._on_interrupt

    def _topic(self, leaf: SatelliteTopic) -> str:
        return self.topics.satellite(self.id, leaf)

    def announce(self) -> None:
        s = self.core.settings
        host = s.advertise_host or (s.wyoming.host if s.wyoming.host not in ("0.0.0.0", "::") else socket.gethostname())
        self.link.publish(self._topic(SatelliteTopic.ANNOUNCE), SatelliteAnnounce(
            satellite=self.id, name=self.core.name, area=s.area or self.id,
            wyoming_uri=f"tcp://{host}:{self._wyoming_port}", software=f"hearth-satellite {__version__}",
            wake_words=[self.core.wake.wake_word], wake_word_options=list(models.WAKE_WORDS),
            # What Home Assistant may ask of it over MQTT (protocol/discovery.py makes entities from these).
            capabilities=["barge_in", "echo_cancel", "timers", "mute", "volume", "start_conversation", "wake_word",
                          "take_over"],
        ), retain=True)
        self.publish_state()

    def publish_state(self) -> None:
        self.link.publish(self._topic(SatelliteTopic.STATE), SatelliteState(
            satellite=self.id, phase=self.core.phase, muted=self.core.muted, volume=self.core.player.volume,
        ), retain=True)

    def _on_phase(self, phase: SatellitePhase) -> None:
        self.publish_state()

    def _on_wake(self, hit: WakeHit, during_playback: bool) -> None:
        self.link.publish(self._topic(SatelliteTopic.WAKE), WakeDetection(
            satellite=self.id, detection_id=uuid.uuid4().hex[:12], wake_word=hit.wake_word,
            score=min(1.0, hit.score), level_dbfs=min(0.0, hit.level_dbfs), during_playback=during_playback,
        ))

    def _on_interrupt(self, reason: InterruptReason, turn_id: str | None) -> None:
        self.link.publish(self._topic(SatelliteTopic.INTERRUPT),
                          Interrupt(satellite=self.id, reason=reason, turn_id=turn_id))

    def metrics(self) -> SatelliteMetrics:
        c = self.core.counters
        return SatelliteMetrics(
            satellite=self.id, cpu_percent=self._process.cpu_percent(),
            rss_mb=round(self._process.memory_info().rss / 2**20, 1), temperature_c=cpu_temperature(),
            frames_dropped=int(self._frames_dropped()), wake_count=c.wakes, false_wake_count=c.false_wakes,
            uptime_s=round(time.monotonic() - c.started, 1),
        )

    async def publish_metrics(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            # QoS 0: the next one comes soon, and a QoS 1 delivery costs the broker a store write.
            self.link.publish(self._topic(SatelliteTopic.METRICS), self.metrics(), qos=0)

    def _result(self, command: Any, status: ResultStatus, code: str | None = None, message: str | None = None) -> None:
        self.link.publish(self._topic(SatelliteTopic.RESULT), CommandResult(
            id=command.id, command=command.command, target=self.id, handled_by=self.id, status=status,
            code=code, message=message,
        ), essential=True)

    async def _on_delivery(self, delivery: Delivery) -> None:
        taken = self.intake.take(delivery)
        if isinstance(taken, Refusal):
            self._result(taken, ResultStatus.ERROR, taken.code, taken.message)
        elif taken is not None:
            await self._on_command(delivery.topic, taken)

    async def _on_command(self, topic: str, command: Any) -> None:
        if command.command not in SATELLITE_OWNED:
            return  # the hub answers announce and timers
        core = self.core
        if isinstance(command, StopCommand):
            stopped = await core.stop(InterruptReason.COMMAND)
            self._result(command, ResultStatus.DONE, message=None if stopped else "nothing was playing")
        elif isinstance(command, MuteCommand):
            core.set_muted(command.muted)
            self._result(command, ResultStatus.DONE)
        elif isinstance(command, VolumeCommand):
            core.set_volume(command.volume)  # re-published here, and told to the hub over Wyoming
            self._result(command, ResultStatus.DONE)
        elif isinstance(command, StartConversationCommand):
            if core.phase is not SatellitePhase.IDLE or core.muted:
                self._result(command, ResultStatus.ERROR, "busy",
                             f"cannot start a conversation while {'muted' if core.muted else core.phase.value}")
                return
            await core.start_streaming(None)
            self._result(command, ResultStatus.DONE)
        elif isinstance(command, TuneCommand):
            core.tune(command.wake_threshold, command.end_of_speech_silence_ms)
            self._result(command, ResultStatus.DONE)
        elif isinstance(command, WakeWordCommand):
            await self._switch_wake_word(command)
        elif isinstance(command, TakeOverCommand):
            dropped = await core.drop_driver(f"taken over on command from {command.sender or 'an unnamed sender'}")
            self._result(command, ResultStatus.DONE, message=f"dropped {dropped}" if dropped else "nobody drove it")

    async def _switch_wake_word(self, command: WakeWordCommand) -> None:
        core = self.core
        if command.wake_word not in models.WAKE_WORDS:
            self._result(command, ResultStatus.ERROR, "unknown_wake_word",
                         f"{command.wake_word!r} is not one of {', '.join(models.WAKE_WORDS)}")
            return
        if command.wake_word == core.wake.wake_word:
            self._result(command, ResultStatus.DONE, message="already listening for it")
            return
        old = core.wake
        try:  # loading a model takes a moment: not on the event loop, and the old one listens meanwhile
            core.wake = await asyncio.to_thread(WakeDetector, command.wake_word, old.threshold, old.refractory_s,
                                                gated=old.gated)
        except (OSError, ValueError) as err:
            self._result(command, ResultStatus.ERROR, "load_failed", f"cannot load {command.wake_word}: {err}")
            return
        _LOGGER.info("wake word is now %s (was %s)", core.wake.wake_word, old.wake_word)
        self.announce()  # the hub re-publishes discovery from it: the select and wake events follow
        self._result(command, ResultStatus.DONE)
