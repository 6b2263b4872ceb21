"""The two systems bench/hearing.py listens through, each as real processes fed the same audio in real time.

- :class:`OursRig`: Mosquitto, ``python -m hub`` with a small MQTT home (test devices from
  testbed/mqtt_test_devices.py, discovered like zigbee2mqtt/Tasmota/ESPHome ones), and one
  ``python -m satellite`` per stream (pipe backend, paced like a microphone). What happened is read
  from MQTT: each satellite's wake detections and each turn report (transcript, handler, device actions).
- :class:`HomeAssistantRig`: the Home Assistant way, ``wyoming-satellite`` + ``wyoming-openwakeword`` +
  ``wyoming-faster-whisper`` (``scripts/install-peers.sh``), with this module standing in for Home
  Assistant's pipeline: it arms the satellite, and after a wake collects the audio the satellite streams,
  ends the command with a VAD segmenter as Home Assistant does (speech then 0.7 s of silence, 15 s
  timeout) and sends it to faster-whisper. The microphone is a FIFO this module writes in real time, so
  both systems' clocks start when their audio does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import peers
from common.local_broker import DEFAULT_DEVICES, MosquittoBroker, free_port
from common.mqtt import MqttLink
from protocol import payloads
from protocol.audio import MIC_FORMAT
from satellite.dsp.vad import EndOfSpeech, WebRtcSpeechDetector

HOME = (
    # (kind, object id, name, area): the devices the bench's commands name.
    ("bulb", "kitchen_lights", "Kitchen lights", "Kitchen"),
    ("bulb", "bedroom_lamp", "Bedroom lamp", "Bedroom"),
    ("bulb", "living_room_lights", "Living room lights", "Living room"),
    ("thermostat", "thermostat", "Thermostat", "Living room"),
    ("plug", "office_fan", "Fan", "Office"),
    ("bulb", "porch_light", "Porch light", "Porch"),
    ("bulb", "garage_light", "Garage light", "Garage"),
)
SATELLITES = ("kitchen", "bedroom", "office")
"""Satellite ids (broker logins the test broker has), one per stream."""


@dataclass
class Wake:
    t: float
    """Seconds into the stream."""


@dataclass
class Turn:
    t: float
    """Seconds into the stream when the turn started."""
    transcript: str
    handler: str
    actions: list[tuple[str, str]] = field(default_factory=list)
    """(entity id, service) the turn commanded."""


@dataclass
class Heard:
    """What one system did with one stream."""

    wakes: list[Wake] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)


def _toml(path: Path, values: dict[str, object]) -> None:
    from testbed.toml_config import write_toml

    write_toml(path, values)


def _devices() -> list[Any]:
    from testbed.mqtt_test_devices import TasmotaPlug, Thermostat, ZigbeeBulb

    kinds = {"bulb": ZigbeeBulb, "plug": TasmotaPlug, "thermostat": Thermostat}
    return [kinds[kind](object_id, name, area) for kind, object_id, name, area in HOME]


class OursRig:
    def __init__(self, work: Path, streams: dict[str, bytes], settle_s: float = 15.0) -> None:
        self.work = work
        self.streams = streams
        self.settle_s = settle_s
        self.heard: dict[str, Heard] = {sat: Heard() for sat in streams}
        self._t0: dict[str, float] = {}
        self._turn_started: dict[str, float] = {}

    def _on_message(self, topic: str, message: object) -> None:
        now = time.monotonic()
        if isinstance(message, payloads.SatelliteState):
            if message.phase is payloads.SatellitePhase.IDLE and message.satellite in self.streams:
                self._t0.setdefault(message.satellite, now)
        elif isinstance(message, payloads.WakeDetection) and message.satellite in self._t0:
            self.heard[message.satellite].wakes.append(Wake(now - self._t0[message.satellite]))
        elif isinstance(message, payloads.ConversationState) and message.turn_id:
            self._turn_started.setdefault(message.turn_id, now)
        elif isinstance(message, payloads.TurnReport) and message.satellite in self._t0:
            # The report comes after the answer has played: the turn is placed where it started.
            started = self._turn_started.get(message.turn_id, now)
            self.heard[message.satellite].turns.append(Turn(
                started - self._t0[message.satellite], message.heard or message.transcript, message.handler,
                [(a.entity, a.service) for a in message.actions]))

    async def run(self) -> dict[str, Heard]:
        from common.broker import Role
        from testbed.mqtt_test_devices import DeviceBridge
        from testbed.toml_config import mqtt_table

        broker = MosquittoBroker(self.work / "mosquitto", devices={**DEFAULT_DEVICES, "zigbee2mqtt": Role.DEVICE_BRIDGE})
        broker.prepare()
        broker.start()
        bridge = DeviceBridge(broker.settings("zigbee2mqtt"), _devices(), client_id="zigbee2mqtt")
        monitor = MqttLink(broker.settings("monitor"), "bench-hearing")

        async def collect(topic: str, message: object) -> None:
            self._on_message(topic, message)

        monitor.subscribe(monitor.topics.everything(), collect)
        ports = {sat: free_port() for sat in self.streams}
        _toml(self.work / "hub.toml", {
            "data_dir": str(self.work / "hub-data"), "satellites": [f"tcp://127.0.0.1:{p}" for p in ports.values()],
            "mqtt": mqtt_table(broker, "hub"), "wyoming": {"enabled": False},
            # First-try hearing, as the Home Assistant way is measured: a follow-up stream after "didn't catch
            # that" would run into the next clip of the schedule.
            "conversation": {"listen_after_asking": False},
        })
        processes: list[peers.PeerProcess] = []
        for sat, pcm in self.streams.items():
            raw = self.work / f"{sat}.raw"
            raw.write_bytes(pcm)
            _toml(self.work / f"{sat}.toml", {
                "id": sat, "area": sat.title(), "wyoming": {"host": "127.0.0.1", "port": ports[sat]},
                "audio": {"backend": "pipe", "input_file": str(raw), "realtime": True},
                "mqtt": mqtt_table(broker, sat),
            })
            processes.append(peers.PeerProcess(f"satellite {sat}", [
                sys.executable, "-m", "satellite", "--config", str(self.work / f"{sat}.toml")], ports[sat],
                self.work / f"satellite-{sat}.log"))
        hub = peers.PeerProcess("hub", [sys.executable, "-m", "hub", "--config", str(self.work / "hub.toml")], 0,
                                self.work / "hub.log")
        tasks = [asyncio.create_task(monitor.run(), name="bench-monitor"),
                 asyncio.create_task(bridge.link.run(), name="bench-devices")]
        try:
            await asyncio.wait_for(monitor.connected.wait(), 10)
            await asyncio.wait_for(bridge.link.connected.wait(), 10)
            bridge.publish_discovery()
            async with peers.running(*processes, timeout=120):
                await hub.start()
                try:
                    deadline = time.monotonic() + 240
                    while len(self._t0) < len(self.streams):
                        if time.monotonic() > deadline or (hub.process and hub.process.returncode is not None):
                            raise RuntimeError(f"the hub never armed every satellite: {hub.log_tail()}")
                        await asyncio.sleep(0.2)
                    longest = max(len(pcm) / MIC_FORMAT.bytes_per_second for pcm in self.streams.values())
                    end = min(self._t0.values()) + longest + self.settle_s
                    while time.monotonic() < end:
                        await asyncio.sleep(1.0)
                        if hub.process and hub.process.returncode is not None:
                            raise RuntimeError(f"the hub died: {hub.log_tail()}")
                finally:
                    await hub.stop()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            broker.stop()
        return self.heard


class _FifoMic:
    """A FIFO the peer's ``--mic-command cat FIFO`` reads; written in real time from a thread."""

    def __init__(self, path: Path, pcm: bytes) -> None:
        self.path = path
        self.pcm = pcm
        self.started = threading.Event()
        self.t0 = 0.0
        self._stop = threading.Event()
        os.mkfifo(path)
        self._thread = threading.Thread(target=self._write, name=f"mic {path.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _write(self) -> None:
        chunk = 1024 * 2
        with contextlib.suppress(BrokenPipeError, OSError), open(self.path, "wb", buffering=0) as out:
            self.t0 = time.monotonic()
            self.started.set()
            for index, offset in enumerate(range(0, len(self.pcm), chunk)):
                if self._stop.is_set():
                    return
                out.write(self.pcm[offset:offset + chunk])
                delay = self.t0 + (index + 1) * 1024 / MIC_FORMAT.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            while not self._stop.wait(0.5):  # keep the pipe open: EOF would end the peer's mic
                out.write(bytes(chunk * 8))

    def stop(self) -> None:
        self._stop.set()


class _HomeAssistant:
    """Home Assistant's side of one wyoming-satellite: arm it, segment each command, transcribe it."""

    def __init__(self, port: int, stt_port: int, mic: _FifoMic, heard: Heard) -> None:
        self.port, self.stt_port, self.mic, self.heard = port, stt_port, mic, heard

    async def run(self) -> None:
        from wyoming.asr import Transcript
        from wyoming.audio import AudioChunk
        from wyoming.client import AsyncTcpClient
        from wyoming.info import Describe
        from wyoming.satellite import RunSatellite

        client = AsyncTcpClient("127.0.0.1", self.port)
        await client.connect()
        await client.write_event(Describe().event())
        await client.write_event(RunSatellite().event())
        audio: bytearray | None = None
        vad = WebRtcSpeechDetector(2)
        eos: EndOfSpeech | None = None
        pending = b""
        woke_t = 0.0
        block = 2560
        try:
            while (event := await client.read_event()) is not None:
                if event.type == "run-pipeline":  # wyoming-satellite's wake (it sends no detection event)
                    woke_t = time.monotonic() - self.mic.t0
                    self.heard.wakes.append(Wake(woke_t))
                    audio, pending = bytearray(), b""
                    eos = EndOfSpeech(700, 15000, 15000)
                elif AudioChunk.is_type(event.type) and audio is not None and eos is not None:
                    pending += AudioChunk.from_event(event).audio
                    ended = False
                    while len(pending) >= block and not ended:
                        piece, pending = pending[:block], pending[block:]
                        audio += piece
                        ended = eos.feed(piece, vad.is_speech(piece))
                    if ended:
                        text = await self._transcribe(bytes(audio))
                        audio, eos = None, None
                        self.heard.turns.append(Turn(woke_t, text, ""))
                        await client.write_event(Transcript(text=text).event())
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def _transcribe(self, pcm: bytes) -> str:
        from wyoming.asr import Transcribe, Transcript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.client import AsyncTcpClient

        fmt = {"rate": MIC_FORMAT.rate, "width": MIC_FORMAT.width, "channels": MIC_FORMAT.channels}
        async with AsyncTcpClient("127.0.0.1", self.stt_port) as stt:
            await stt.write_event(Transcribe(language="en").event())
            await stt.write_event(AudioStart(**fmt).event())
            for offset in range(0, len(pcm), 2048):
                await stt.write_event(AudioChunk(audio=pcm[offset:offset + 2048], **fmt).event())
            await stt.write_event(AudioStop().event())
            while (event := await stt.read_event()) is not None:
                if Transcript.is_type(event.type):
                    return Transcript.from_event(event).text
        return ""


class HomeAssistantRig:
    def __init__(self, work: Path, streams: dict[str, bytes], settle_s: float = 15.0) -> None:
        self.work = work
        self.streams = streams
        self.settle_s = settle_s
        self.heard: dict[str, Heard] = {sat: Heard() for sat in streams}

    async def run(self) -> dict[str, Heard]:
        wake_port, stt_port = free_port(), free_port()
        wake = peers.PeerProcess("wyoming-openwakeword", peers.openwakeword_command(wake_port), wake_port,
                                 self.work / "wyoming-openwakeword.log")
        stt = peers.PeerProcess("wyoming-faster-whisper", peers.whisper_command(stt_port), stt_port,
                                self.work / "wyoming-faster-whisper.log")
        mics = {sat: _FifoMic(self.work / f"{sat}.mic", pcm) for sat, pcm in self.streams.items()}
        satellites = {}
        for sat, mic in mics.items():
            port = free_port()
            satellites[sat] = peers.PeerProcess(f"wyoming-satellite {sat}", [
                str(peers.peer_python("satellite")), "-m", "wyoming_satellite", "--name", sat, "--area", sat,
                "--uri", f"tcp://127.0.0.1:{port}", "--no-zeroconf", "--mic-command", f"cat {mic.path}",
                "--wake-uri", f"tcp://127.0.0.1:{wake_port}", "--wake-word-name", "hey_jarvis",
            ], port, self.work / f"wyoming-satellite-{sat}.log")
        # The peers' wake and STT services first: a wyoming-satellite that finds no wake service at start
        # keeps retrying it.
        async with peers.running(wake, stt, timeout=180), peers.running(*satellites.values(), timeout=120):
            stand_ins = [_HomeAssistant(satellites[sat].port, stt_port, mics[sat], self.heard[sat]) for sat in mics]
            tasks = [asyncio.create_task(s.run(), name=f"ha-{s.port}") for s in stand_ins]
            await asyncio.sleep(1.0)
            for mic in mics.values():
                mic.start()
            longest = max(len(pcm) / MIC_FORMAT.bytes_per_second for pcm in self.streams.values())
            try:
                await asyncio.sleep(longest + self.settle_s)
            finally:
                for mic in mics.values():
                    mic.stop()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        return self.heard


async def openwakeword_detections(pcm: bytes, log: Path) -> int:
    """wyoming-openwakeword's detections on ``pcm``, fed as fast as it reads (its false wakes)."""
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.wake import Detect

    port = free_port()
    wake = peers.PeerProcess("wyoming-openwakeword", peers.openwakeword_command(port), port, log)
    detections = 0
    async with peers.running(wake, timeout=120), AsyncTcpClient("127.0.0.1", port) as client:
        fmt = {"rate": MIC_FORMAT.rate, "width": MIC_FORMAT.width, "channels": MIC_FORMAT.channels}
        await client.write_event(Detect(names=["hey_jarvis"]).event())
        await client.write_event(AudioStart(**fmt).event())

        async def read() -> None:
            nonlocal detections
            while (event := await client.read_event()) is not None:
                if event.type == "detection":
                    detections += 1

        reader = asyncio.create_task(read(), name="openwakeword-reader")
        for offset in range(0, len(pcm), 2560):
            await client.write_event(AudioChunk(audio=pcm[offset:offset + 2560], **fmt).event())
            if offset % (2560 * 50) == 0:
                await asyncio.sleep(0.01)  # let it keep up: its queue is unbounded
        await client.write_event(AudioStop().event())
        await asyncio.sleep(5.0)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return detections
