"""A scripted satellite: a real Wyoming server that says what a test tells it to.

It answers ``describe``/``ping`` like a satellite, streams given PCM after a wake
detection (paced like a microphone, then silence until the hub stops listening), collects
the answer audio the hub sends and answers ``played``. Tests and benchmarks use many of
them to stand in for rooms without loading wake-word models.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played

from common.wyoming_peer import WyomingPeer
from common.wyoming_server import WyomingServer
from protocol.audio import MIC_CHUNK_SAMPLES, MIC_FORMAT
from protocol.wyoming_events import DetectionEvent, InterruptEvent, TurnStarted

CHUNK_BYTES = MIC_CHUNK_SAMPLES * MIC_FORMAT.width


@dataclass
class Answer:
    audio: bytearray = field(default_factory=bytearray)
    rate: int = 0
    first_chunk_t: float | None = None
    stop_t: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class SimSatellite:
    def __init__(self, name: str, area: str | None = None, *, send_played: bool = True,
                 read_answers: bool = True) -> None:
        self.name = name
        self.area = area or name
        self.send_played = send_played
        self.read_answers = read_answers
        self.port = 0
        self.received: list[Event] = []
        self.answers: list[Answer] = []
        self.transcripts: list[str] = []
        self.turn_ids: list[str] = []
        self.running = asyncio.Event()
        self.transcript_event = asyncio.Event()
        self._peer: WyomingPeer | None = None
        self._server: WyomingServer | None = None
        self._streaming = False
        self.speech_end_t: float | None = None
        """When the last chunk holding speech was sent (the true end of speech), monotonic."""

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._server = WyomingServer("127.0.0.1", port, self._serve, label=lambda _host: f"sim {self.name}")
        await self._server.start()
        self.port = self._server.port

    async def close(self) -> None:
        if self._peer is not None:
            await self._peer.close()
        if self._server is not None:
            await self._server.close()

    async def _serve(self, peer: WyomingPeer) -> None:
        self._peer = peer
        if not self.read_answers:  # a small window, so that not reading is felt at once
            peer.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            while (event := await peer.read()) is not None:
                await self._handle(peer, event)
                if not self.read_answers and self.running.is_set():
                    break  # armed, then it stops reading: a stuck consumer
            if not self.read_answers:
                await asyncio.Event().wait()  # a satellite that has stopped reading
        finally:
            self.running.clear()

    async def _handle(self, peer: WyomingPeer, event: Event) -> None:
        self.received.append(event)
        kind = event.type
        if Describe.is_type(kind):
            await peer.send(Info(satellite=Satellite(
                name=self.name, area=self.area, description="simulated", installed=True, version="1",
                attribution=Attribution(name="test", url="")),
            ).event())
        elif RunSatellite.is_type(kind):
            self.running.set()
        elif Ping.is_type(kind):
            await peer.send(Pong().event())
        elif TurnStarted.is_type(kind):
            self.turn_ids.append(TurnStarted.from_event(event).turn_id)
        elif Transcript.is_type(kind):
            self._streaming = False
            self.transcripts.append(Transcript.from_event(event).text)
            self.transcript_event.set()
        elif AudioStart.is_type(kind):
            self.answers.append(Answer(rate=AudioStart.from_event(event).rate))
        elif AudioChunk.is_type(kind):
            if self.answers:
                answer = self.answers[-1]
                if answer.first_chunk_t is None:
                    answer.first_chunk_t = time.monotonic()
                answer.audio += AudioChunk.from_event(event).audio
        elif AudioStop.is_type(kind):
            if self.answers:
                self.answers[-1].stop_t = time.monotonic()
                self.answers[-1].done.set()
            if self.send_played:
                await peer.send(Played().event())
        elif InterruptEvent.is_type(kind):
            self._streaming = False
            if self.answers and not self.answers[-1].done.is_set():
                self.answers[-1].done.set()

    async def say(self, pcm: bytes, *, wake_word: str = "hey_jarvis", score: float = 0.95,
                  level_dbfs: float = -20.0, realtime: float = 1.0, trailing_silence_s: float = 3.0,
                  end_with_audio_stop: bool = False, preroll_ms: float | None = None) -> None:
        """Wake, then stream ``pcm`` like a microphone, then silence until the hub stops listening.

        ``preroll_ms``: say, as our satellite does, that ``pcm`` starts this long before the wake fired."""
        await self.running.wait()
        peer = self._peer
        assert peer is not None
        self.transcript_event.clear()
        # Our satellites add score and signal level to Wyoming's detection for room arbitration.
        await peer.send(DetectionEvent(name=wake_word, score=score, level_dbfs=level_dbfs,
                                       preroll_ms=preroll_ms or 0.0).event())
        await peer.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await peer.send(AudioStart(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels).event())
        self._streaming = True
        silence = bytes(int(MIC_FORMAT.bytes_per_second * trailing_silence_s))
        audio = pcm + silence
        chunk_s = MIC_CHUNK_SAMPLES / MIC_FORMAT.rate
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(audio), CHUNK_BYTES)):
            if not self._streaming:
                break
            if offset >= len(pcm) and end_with_audio_stop:
                break
            await peer.send(AudioChunk(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels,
                                       audio=audio[offset:offset + CHUNK_BYTES]).event())
            if offset < len(pcm) <= offset + CHUNK_BYTES:
                self.speech_end_t = time.monotonic()
            if realtime:
                delay = started + (index + 1) * chunk_s / realtime - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionError):
            await peer.send(AudioStop().event())

    async def send(self, event: Event) -> None:
        assert self._peer is not None
        await self._peer.send(event)
