"""Hearing people: voices other than piper, commands said without a pause, rooms with continuous noise.

The real satellite (file backend, real wake model and VAD) hears speech from testbed/speech_corpus.py;
what it streams is checked with the hub's own whisper, or by a real hub end to end.
"""

from __future__ import annotations

import asyncio
import wave

import pytest
from wyoming.audio import AudioChunk

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from protocol.audio import MIC_FORMAT
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings
from testbed.hub_rig import running_hub
from testbed.speech_corpus import QUIET_SNR_DB, Corpus, Placed, build_stream, pink
from tests.test_satellite import FakeHub, satellite_with_hub

pytestmark = [pytest.mark.timeout(300), pytest.mark.models]

COMMAND = "turn on the kitchen lights"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


def room(pcm_list: list[bytes], snr_db: float, *, gap_s: float = 3.0, lead_s: float = 1.5, seed: int = 1) -> bytes:
    """The utterances over continuous pink noise (``QUIET_SNR_DB``: a quiet room's hiss)."""
    background = pink(30.0, seed)
    return build_stream([(pcm, Placed("", 0, 0)) for pcm in pcm_list], background, snr_db, gap_s=gap_s,
                        lead_s=lead_s).pcm


def turns(hub: FakeHub) -> list[bytes]:
    """The audio of each stream the satellite sent, from audio-start to audio-stop."""
    streams: list[bytes] = []
    current: bytearray | None = None
    for event in hub.events:
        if event.type == "audio-start":
            current = bytearray()
        elif event.type == "audio-chunk" and current is not None:
            current += AudioChunk.from_event(event).audio
        elif event.type == "audio-stop" and current is not None:
            streams.append(bytes(current))
            current = None
    return streams


async def heard(hub_models, pcm: bytes) -> str:
    return (await hub_models.stt.transcribe(pcm, "test")).text.lower()


async def drain(app: SatelliteApp) -> None:
    backend = app.backend
    while backend._offset < len(backend._pcm) or app.core.phase.value == "streaming":
        await asyncio.sleep(0.05)


# (espeak-f3's run-on "Jarvis turn on" defeats whisper tiny even on the whole clip: "Hey, John, we're still
# in on the kitchen lights"; that is recognition, not lost audio, and bench/hearing.py counts it.)
@pytest.mark.parametrize("voice", ["piper", "espeak-us", "espeak-gb-slow"])
async def test_first_word_survives_a_command_said_without_a_pause(broker, hub_models, corpus, tmp_path, voice):
    """Real satellite, real hub: what the hub heard of 'hey jarvis turn on the kitchen lights' keeps 'turn'."""
    ended = await hub_turn(broker, hub_models, tmp_path, corpus.wake_command(COMMAND, voice))
    heard_text = ended.data.transcript.lower()
    assert "turn" in heard_text and "lights" in heard_text, ended.data


async def test_detection_tells_the_hub_how_much_came_before_the_wake(tmp_path, hub_models, corpus):
    async with satellite_with_hub(tmp_path) as (app, hub):
        app.backend.feed(room([corpus.wake_command(COMMAND, "piper")], QUIET_SNR_DB))
        await hub.wait_for("audio-stop", timeout=60)
    assert hub.of("detection")[0].data["preroll_ms"] == 1200
    text = await heard(hub_models, hub.streamed_audio())
    assert "jarvis" in text and "turn" in text, text  # the whole wake phrase, again, for the hub to cut


async def test_a_driver_that_keeps_the_wake_phrase_gets_the_stream_from_after_the_wake(tmp_path, hub_models, corpus):
    """Home Assistant's agent does not cut 'hey Jarvis' from its transcripts: it gets no pre-roll."""
    async with satellite_with_hub(tmp_path, driver_strips_wake=False) as (app, hub):
        app.backend.feed(room([corpus.wake_command(COMMAND, "piper")], QUIET_SNR_DB))
        await hub.wait_for("audio-stop", timeout=60)
    assert hub.of("detection")[0].data["preroll_ms"] == 0
    assert "jarvis" not in await heard(hub_models, hub.streamed_audio())


async def test_without_the_preroll_the_first_word_is_lost(tmp_path, hub_models, corpus):
    """The control for the test above: streaming from the block after the wake loses 'turn'."""
    async with satellite_with_hub(tmp_path, wake={"stream_preroll_ms": 0}) as (app, hub):
        app.backend.feed(room([corpus.wake_command(COMMAND, "piper")], QUIET_SNR_DB))
        await hub.wait_for("audio-stop", timeout=60)
    assert hub.of("detection")[0].data["preroll_ms"] == 0
    text = await heard(hub_models, hub.streamed_audio())
    assert "kitchen" in text and "turn" not in text, text


async def test_wake_word_heard_after_minutes_of_continuous_noise_at_10_db(tmp_path, corpus):
    """Two minutes of pink noise, then six commands 6 s apart, all over the same noise at 10 dB SNR.

    Each must wake the satellite, and each stream must end on the speaker's silence within a few
    seconds: before the noise-floor gate, the VAD heard the noise as speech and every stream ran to the
    15 s limit, so the satellite was still streaming when the next command came.
    """
    commands = ["turn on the kitchen lights", "what time is it", "set a timer for five minutes"]
    said = [corpus.wake_command(text, voice) for voice in ("piper", "espeak-f3") for text in commands]
    audio = room(said, 10.0, gap_s=6.0, lead_s=120.0)
    # No refractory time: the file backend stamps blocks with the wall clock, and faster than real time
    # two wakes 6 s of audio apart are a fraction of a second apart.
    async with satellite_with_hub(tmp_path, wake={"refractory_s": 0}) as (app, hub):
        app.backend.feed(audio)
        await drain(app)
        streams = turns(hub)
    assert len(hub.of("detection")) == len(said)
    longest_s = max(MIC_FORMAT.duration_ms(len(s)) for s in streams) / 1000
    assert longest_s < 5.0, f"a stream lasted {longest_s:.1f} s"


async def test_noise_alone_neither_wakes_nor_holds_the_gate_open(tmp_path, corpus):
    noise = room([], 10.0, lead_s=60.0)
    async with satellite_with_hub(tmp_path) as (app, hub):
        app.backend.feed(noise)
        while app.backend._offset < len(noise) // 2:
            await asyncio.sleep(0.02)
        floor = app.core.vad.floor_dbfs
        await drain(app)
    assert hub.of("detection") == []
    assert -35.0 < floor < -25.0  # the floor follows the noise (speech level -20 dBFS, 10 dB SNR)


async def test_barge_in_keeps_the_first_word(tmp_path, hub_models, corpus):
    answer = corpus.say("Once upon a time there was a dragon who lived in a castle on a hill. " * 3, "piper")
    command = corpus.wake_command("turn off the lights", "piper")
    async with satellite_with_hub(tmp_path, audio={"echo_gain": 0.5, "realtime": True}) as (app, hub):
        app.backend.feed(room([], QUIET_SNR_DB, lead_s=3.0))
        await hub.speak(answer)
        await asyncio.sleep(3.0)
        assert app.player.playing
        app.backend.feed(room([command], QUIET_SNR_DB, lead_s=0.2))
        await hub.wait_for("interrupt", timeout=30)
        await hub.wait_for("audio-stop", timeout=30)
    assert hub.of("detection")[0].data["preroll_ms"] == 1200
    text = await heard(hub_models, hub.streamed_audio())
    assert "turn" in text and "light" in text, text


class _Armed:
    """What running_hub needs of a satellite: its address and a 'running' wait."""

    def __init__(self, app: SatelliteApp) -> None:
        self.uri = f"tcp://127.0.0.1:{app.server.port}"
        self.running = app.core.hub_ready


async def hub_turn(broker, hub_models, tmp_path, pcm: bytes):
    """One spoken turn through a real satellite (file backend, real time) and a real hub; the turn-ended event."""
    mic = tmp_path / "mic.wav"
    with wave.open(str(mic), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(MIC_FORMAT.rate)
        wav.writeframes(room([pcm], QUIET_SNR_DB) + bytes(32000))
    settings = SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "mqtt": {"enabled": False}, "wyoming": {"host": "127.0.0.1", "port": 0},
        "audio": {"backend": "file", "realtime": True, "input_file": str(mic)},
    })
    app = await asyncio.to_thread(SatelliteApp, settings)
    await app.start()
    try:
        async with running_hub(broker, hub_models, [_Armed(app)], tmp_path) as hub:
            recorder = EventRecorder(hub.bus)
            return await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
    finally:
        await app.close()
