"""The satellite with real wake, VAD and echo-cancellation models, driven by a Wyoming client over TCP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite

from common.pcm import resample_pcm
from common.wyoming_peer import WyomingPeer
from protocol.audio import MIC_FORMAT
from protocol.framing import stream_limit
from protocol.payloads import InterruptReason, SatellitePhase
from protocol.wyoming_events import DetectionEvent, InterruptEvent, run_satellite
from satellite.app import SatelliteApp
from satellite.dsp.sounds import SOUNDS, Sound
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import noise, scale, silence

pytestmark = pytest.mark.timeout(300)


class FakeHub:
    """A Wyoming client doing what the hub does, recording what the satellite sends."""

    def __init__(self, peer: WyomingPeer) -> None:
        self.peer = peer
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while (event := await self.peer.read()) is not None:
            self.events.append(event)
            self.changed.set()

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 30.0) -> list[Event]:
        async def _wait() -> list[Event]:
            while len(self.of(kind)) < count:
                self.changed.clear()
                await self.changed.wait()
            return self.of(kind)
        return await asyncio.wait_for(_wait(), timeout)

    def streamed_audio(self) -> bytes:
        return b"".join(AudioChunk.from_event(e).audio for e in self.of("audio-chunk"))

    async def speak(self, pcm: bytes, rate: int = MIC_FORMAT.rate) -> None:
        """Send an answer the way the hub does."""
        await self.peer.send(AudioStart(rate=rate, width=2, channels=1).event())
        for start in range(0, len(pcm), 4096):
            await self.peer.send(AudioChunk(rate=rate, width=2, channels=1, audio=pcm[start:start + 4096]).event())
        await self.peer.send(AudioStop().event())


@contextlib.asynccontextmanager
async def satellite_with_hub(tmp_path: Path, *, driver_strips_wake: bool = True,
                             **overrides) -> AsyncIterator[tuple[SatelliteApp, FakeHub]]:
    """A satellite driven by a FakeHub; ``driver_strips_wake=False`` drives it like Home Assistant does."""
    values = {
        "id": "kitchen", "area": "Kitchen", "mqtt": {"enabled": False}, "wyoming": {"host": "127.0.0.1", "port": 0},
        "audio": {"backend": "file", "realtime": False, "output_file": str(tmp_path / "played.wav")},
    }
    for key, value in overrides.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate(values))
    await app.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", app.server.port, limit=stream_limit())
    hub = FakeHub(WyomingPeer(reader, writer, "fake hub"))
    await hub.peer.send(Describe().event())
    await hub.wait_for("info")
    await hub.peer.send(run_satellite(strips_wake_phrase=True) if driver_strips_wake else RunSatellite().event())
    try:
        yield app, hub
    finally:
        await hub.peer.close()
        hub.task.cancel()
        await app.close()


async def test_describe_reports_room_and_wake_word(tmp_path):
    async with satellite_with_hub(tmp_path) as (app, hub):
        info = Info.from_event(hub.of("info")[0])
    assert info.satellite is not None
    assert info.satellite.area == "Kitchen"
    assert info.satellite.active_wake_words == ["hey_jarvis"]


async def test_wake_word_then_command_reaches_the_hub(tmp_path, speech, hub_models):
    async with satellite_with_hub(tmp_path) as (app, hub):
        app.backend.feed(silence(1.0) + speech("Hey Jarvis.") + silence(0.3) + speech("What time is it?")
                         + silence(2.5))
        await hub.wait_for("audio-stop", timeout=60)
    detection = DetectionEvent.from_event(hub.of("detection")[0])  # as the hub reads it
    assert detection.name == "hey_jarvis" and detection.score >= 0.5
    assert -60 < detection.level_dbfs < 0
    assert detection.preroll_ms == app.settings.wake.stream_preroll_ms  # this driver cuts the wake phrase
    kinds = [e.type for e in hub.events]
    assert kinds.index("detection") < kinds.index("run-pipeline") < kinds.index("audio-start")
    assert RunPipeline.from_event(hub.of("run-pipeline")[0]).start_stage.value == "asr"
    heard = await hub_models.stt.transcribe(hub.streamed_audio(), "test")
    assert "time" in heard.text.lower()
    # The end-of-speech window closed the stream: well under the 15 s hard limit.
    assert MIC_FORMAT.duration_ms(len(hub.streamed_audio())) < 5000


@pytest.mark.parametrize("phrase", ["Hey Travis, what's up?", "Good morning everyone.", "Jars of jam are on the shelf."])
async def test_other_phrases_do_not_wake(tmp_path, speech, phrase):
    async with satellite_with_hub(tmp_path) as (app, hub):
        app.backend.feed(silence(0.5) + speech(phrase) + silence(1.0))
        await asyncio.sleep(0)
        await _drain(app)
    assert hub.of("detection") == [] and hub.of("run-pipeline") == []


async def test_silence_and_noise_do_not_wake(tmp_path):
    async with satellite_with_hub(tmp_path) as (app, hub):
        app.backend.feed(silence(3.0) + noise(5.0, -30) + scale(noise(3.0, -12, seed=1), 0))
        await _drain(app)
    assert hub.of("detection") == []


async def _drain(app: SatelliteApp) -> None:
    """Wait until the file backend has consumed everything fed to it."""
    backend = app.backend
    while backend._offset < len(backend._pcm) or app.player.playing:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)


ANSWERS = [
    "Hey Jarvis is what you call me. It is twelve degrees and cloudy outside.",
    "Sure. Hey Jarvis, the assistant, set a timer for ten minutes.",
    "The kitchen light is now on. Say hey Jarvis if you need anything else.",
    "Paris is the capital of France. It is known for the Eiffel tower and its museums.",
]


async def _play_answers(tmp_path, speech_tts, echo_cancel: bool) -> tuple[int, float]:
    """Play each answer through the satellite with the room echo on; count self-triggered wakes."""
    triggers = 0
    seconds = 0.0
    async with satellite_with_hub(tmp_path, audio={"echo_gain": 0.5, "realtime": False},
                                  barge_in={"echo_cancel": echo_cancel}) as (app, hub):
        for text in ANSWERS:
            pcm = speech_tts(text)
            seconds += MIC_FORMAT.duration_ms(len(pcm)) / 1000
            app.backend.feed(silence(MIC_FORMAT.duration_ms(len(pcm)) / 1000 + 1.5))
            await hub.speak(pcm)
            await _drain(app)
        triggers = len(hub.of("interrupt")) + len(hub.of("detection"))
    return triggers, seconds


async def test_own_answer_played_into_the_mic_does_not_trigger_with_echo_cancellation(tmp_path, speech):
    triggers, seconds = await _play_answers(tmp_path, speech, echo_cancel=True)
    assert triggers == 0, f"{triggers} self-triggers in {seconds:.0f} s of answers"


async def test_without_echo_cancellation_the_answer_triggers_itself(tmp_path, speech):
    """The control for the test above: the same echo, no AEC, and the satellite interrupts itself."""
    triggers, _ = await _play_answers(tmp_path, speech, echo_cancel=False)
    assert triggers > 0


async def test_barge_in_with_wake_word_stops_playback_within_100_ms(tmp_path, speech):
    answer = speech("Once upon a time there was a dragon who lived in a castle on a hill. " * 3)
    wake = speech("Hey Jarvis.") + silence(0.3) + speech("Stop.") + silence(2.0)
    async with satellite_with_hub(tmp_path, audio={"echo_gain": 0.5, "realtime": True}) as (app, hub):
        app.backend.feed(silence(3.0))
        await hub.speak(answer)
        await asyncio.sleep(3.0)
        assert app.player.playing
        app.backend.feed(wake)
        interrupts = await hub.wait_for("interrupt", timeout=30)
        await hub.wait_for("run-pipeline", timeout=10)
        pending_after = app.player.pending_ms
    barge = app.core.barge_ins[0]
    assert InterruptEvent.from_event(interrupts[0]).reason.value == "wake_word"
    assert 1000 * (barge.stopped_t - barge.detected_t) < 100
    # Only the wake chime is queued: the rest of the answer was dropped.
    assert pending_after <= MIC_FORMAT.duration_ms(len(SOUNDS[Sound.WAKE]))
    # Most of the long answer was never played.
    played_s = app.player.played_bytes / MIC_FORMAT.bytes_per_second
    assert played_s < MIC_FORMAT.duration_ms(len(answer)) / 1000


async def test_wrong_answer_audio_format_is_refused_with_an_error(tmp_path):
    async with satellite_with_hub(tmp_path) as (app, hub):
        await hub.peer.send(AudioStart(rate=22050, width=4, channels=2).event())
        await hub.peer.send(AudioChunk(rate=22050, width=4, channels=2, audio=bytes(4096)).event())
        errors = await hub.wait_for("error", timeout=10)
        # The satellite is still alive and answering.
        await hub.peer.send(Describe().event())
        await hub.wait_for("info", count=2)
    assert errors[0].data["code"] == "bad_audio_format"


async def _handled(hub: FakeHub) -> None:
    """Until the satellite has handled everything sent so far (it answers a ping after the events before it)."""
    pongs = len(hub.of("pong"))
    await hub.peer.send(Ping(text="sync").event())
    await hub.wait_for("pong", count=pongs + 1, timeout=10)


async def test_after_the_hubs_interrupt_the_rest_of_the_old_answer_never_plays(tmp_path):
    fmt = {"rate": MIC_FORMAT.rate, "width": MIC_FORMAT.width, "channels": MIC_FORMAT.channels}
    old, new = noise(4.0, -30), noise(0.5, -30, seed=2)
    async with satellite_with_hub(tmp_path, audio={"realtime": True}) as (app, hub):
        await hub.peer.send(AudioStart(**fmt).event())
        await hub.peer.send(AudioChunk(audio=old[:len(old) // 2], **fmt).event())
        await asyncio.sleep(0.3)
        assert app.core.phase is SatellitePhase.PLAYING and app.player.playing
        await hub.peer.send(InterruptEvent(reason=InterruptReason.HUB).event())
        # What the hub had already sent of the old answer arrives after the interrupt.
        await hub.peer.send(AudioChunk(audio=old[len(old) // 2:], **fmt).event())
        await hub.peer.send(AudioStop().event())
        await _handled(hub)
        assert app.core.phase is SatellitePhase.IDLE and not app.player.playing
        played = app.player.played_bytes
        await asyncio.sleep(0.5)
        assert app.player.played_bytes == played < len(old) // 4  # silence from the interrupt on
        assert hub.of("played") == []  # an interrupted answer is not reported as played
        await hub.speak(new)  # the next answer plays whole
        await hub.wait_for("played", timeout=10)
        assert app.player.played_bytes - played == len(new)


async def test_a_big_answer_chunk_at_another_rate_plays_at_its_length(tmp_path):
    """A chunk big enough to be resampled off the audio loop (64 KiB and more) still plays, in order."""
    pcm = noise(5.0, -30, seed=3)
    answer = resample_pcm(pcm, MIC_FORMAT.rate, 8000)
    assert len(answer) > 64 * 1024
    async with satellite_with_hub(tmp_path, audio={"realtime": True}) as (app, hub):
        await hub.peer.send(AudioStart(rate=8000, width=2, channels=1).event())
        await hub.peer.send(AudioChunk(rate=8000, width=2, channels=1, audio=answer).event())
        await hub.peer.send(AudioChunk(rate=8000, width=2, channels=1, audio=answer[:1600]).event())
        await _handled(hub)
        assert 4500 < app.player.pending_ms <= 5100  # 5.1 s queued at 16 kHz, a few blocks already played
        assert app.core.phase is SatellitePhase.PLAYING


def test_resample_keeps_duration():
    pcm = bytes(22050 * 2)
    assert len(resample_pcm(pcm, 22050, 16000)) == 32000


async def test_hub_dying_mid_answer_stops_playback_with_an_error_sound_and_recovers(tmp_path, speech):
    from protocol.payloads import SatellitePhase

    async with satellite_with_hub(tmp_path, audio={"realtime": True}) as (app, hub):
        app.backend.feed(silence(5.0))
        await hub.speak(speech("This is a long answer that will never be finished because the hub dies."))
        await asyncio.sleep(0.5)
        assert app.core.phase is SatellitePhase.PLAYING
        hub.peer.writer.transport.abort()  # like SIGKILL: no goodbye
        lost_t = asyncio.get_running_loop().time()
        while app.core.phase is not SatellitePhase.PAUSED and asyncio.get_running_loop().time() - lost_t < 1.0:
            await asyncio.sleep(0.02)
        assert app.core.phase is SatellitePhase.PAUSED  # noticed within one second
        # Only the error chime is left to play: the rest of the answer was dropped.
        assert 0 < app.player.pending_ms <= MIC_FORMAT.duration_ms(len(SOUNDS[Sound.ERROR]))
        # The hub comes back: the satellite takes it and listens again.
        reader, writer = await asyncio.open_connection("127.0.0.1", app.server.port, limit=stream_limit())
        again = FakeHub(WyomingPeer(reader, writer, "hub again"))
        await again.peer.send(RunSatellite().event())
        for _ in range(20):
            if app.core.phase is SatellitePhase.IDLE:
                break
            await asyncio.sleep(0.05)
        assert app.core.phase is SatellitePhase.IDLE
        await again.peer.close()
        again.task.cancel()
