"""Every Wyoming message we use round-trips over a real socket; bad frames give clear errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, Eventable
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from protocol.audio import MIC_FORMAT, AudioFormatError
from protocol.framing import FrameError, FrameLimits, read_frame, stream_limit, write_frame
from protocol.payloads import InterruptReason
from protocol.wyoming_events import (
    EXTENSION_EVENTS,
    STANDARD_EVENTS,
    STOCK_WAKE_LEVEL_DBFS,
    STOCK_WAKE_SCORE,
    DetectionEvent,
    InterruptEvent,
    TurnStarted,
    audio_event_format,
    run_satellite,
    strips_wake_phrase,
)

SAMPLES: list[Eventable] = [
    Describe(),
    Info(satellite=Satellite(name="kitchen", attribution=Attribution(name="hearth", url="https://example.invalid"),
                             installed=True, description="Kitchen", version="0.1.0", area="Kitchen")),
    RunSatellite(),
    PauseSatellite(),
    Ping(text="1"),
    Pong(text="1"),
    RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS, wake_word_name="hey_jarvis"),
    Detection(name="hey_jarvis", timestamp=1234),
    AudioStart(rate=16000, width=2, channels=1),
    AudioChunk(rate=16000, width=2, channels=1, audio=b"\x01\x00" * 640),
    AudioStop(),
    VoiceStarted(timestamp=10),
    VoiceStopped(timestamp=900),
    Transcribe(language="en"),
    Transcript(text="what time is it"),
    Synthesize(text="It's three o'clock."),
    Played(),
    TimerStarted(id="t1", total_seconds=120, name="tea"),
    TimerUpdated(id="t1", is_active=True, total_seconds=100),
    TimerCancelled(id="t1"),
    TimerFinished(id="t1"),
    Error(text="bad frame", code="bad_json"),
    InterruptEvent(reason=InterruptReason.WAKE_WORD, turn_id="t1"),
    TurnStarted(turn_id="t1"),
    DetectionEvent(name="hey_jarvis", score=0.93, level_dbfs=-21.5, near_miss=0.41, preroll_ms=1200),
]


def test_samples_cover_every_message_class() -> None:
    assert {type(s) for s in SAMPLES} == set(STANDARD_EVENTS) | set(EXTENSION_EVENTS)


@pytest.fixture
async def echo_pair() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A client connected to a port-0 server that echoes every frame it can read."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (event := await read_frame(reader)) is not None:
            await write_frame(writer, event)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, limit=stream_limit())
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=stream_limit())
    yield reader, writer
    writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
async def test_message_round_trips_over_a_socket(message: Eventable, echo_pair) -> None:
    reader, writer = echo_pair
    await write_frame(writer, message.event())
    received = await asyncio.wait_for(read_frame(reader), 5)
    assert received is not None and type(message).is_type(received.type)
    assert type(message).from_event(received) == message


async def _feed(raw: bytes, limits: FrameLimits | None = None) -> Event | None:
    reader = asyncio.StreamReader(limit=stream_limit(limits or FrameLimits()))
    reader.feed_data(raw)
    reader.feed_eof()
    return await read_frame(reader, limits or FrameLimits())


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json}\n", "bad_json"),
        (b"[1,2]\n", "bad_json"),
        (b'{"data":{}}\n', "bad_header"),
        (b'{"type":"x","data":[1]}\n', "bad_header"),
        (b'{"type":"audio-chunk","payload_length":-1}\n', "bad_header"),
        (b'{"type":"audio-chunk","payload_length":"9"}\n', "bad_header"),
        (b'{"type":"audio-chunk","payload_length":99999999999}\n', "too_large"),
        (b'{"type":"audio-chunk","payload_length":10}\nabc', "truncated"),
        (b'{"type":"transcript","data_length":50}\n{"text"', "truncated"),
        (b'{"type":"transcript","data_length":3}\n[1]', "bad_json"),
        (b'{"type":"transc', "truncated"),
    ],
)
async def test_malformed_frames_raise_a_coded_error(raw: bytes, code: str) -> None:
    with pytest.raises(FrameError) as err:
        await _feed(raw)
    assert err.value.code == code


async def test_oversized_header_is_refused() -> None:
    limits = FrameLimits(max_header_bytes=128)
    with pytest.raises(FrameError) as err:
        await _feed(json.dumps({"type": "x", "data": {"pad": "a" * 500}}).encode() + b"\n", limits)
    assert err.value.code == "header_too_large"


async def test_clean_end_of_stream_is_not_an_error() -> None:
    assert await _feed(b"") is None


async def test_separate_data_block_is_merged() -> None:
    event = await _feed(b'{"type":"transcript","data":{"a":1},"data_length":17}\n{"text":"hello"}  ')
    assert event is not None and event.data == {"a": 1, "text": "hello"}


Sender = Callable[[bytes], Awaitable[None]]


def test_run_satellite_says_whether_the_driver_cuts_the_wake_phrase():
    ours = run_satellite(strips_wake_phrase=True)
    assert RunSatellite.is_type(ours.type) and strips_wake_phrase(ours)
    assert not strips_wake_phrase(RunSatellite().event())  # Home Assistant, a stock driver
    assert not strips_wake_phrase(run_satellite(strips_wake_phrase=False))


def test_a_stock_detection_reads_with_the_documented_defaults():
    """A stock wyoming-satellite sends Wyoming's detection: name (and a timestamp), nothing of ours."""
    ours = DetectionEvent.from_event(Detection(name="ok_nabu", timestamp=1234).event())
    assert ours == DetectionEvent(name="ok_nabu", score=STOCK_WAKE_SCORE, level_dbfs=STOCK_WAKE_LEVEL_DBFS,
                                  near_miss=None, preroll_ms=0.0)


@pytest.mark.parametrize("data", [
    {"name": "hey_jarvis", "score": "high", "level_dbfs": 3.0, "near_miss": 7, "preroll_ms": -80},
    {"name": "hey_jarvis", "score": True, "level_dbfs": None, "near_miss": "x", "preroll_ms": 10**9},
    {"name": "hey_jarvis", "score": 0, "level_dbfs": [1], "near_miss": -0.1, "preroll_ms": "1200"},
])
def test_a_detection_with_nonsense_fields_reads_as_a_stock_one(data):
    """A wake happened whatever its extra fields say: out-of-range or mistyped ones read as absent, never raise."""
    assert DetectionEvent.from_event(Event(type="detection", data=data)) == DetectionEvent(name="hey_jarvis")


def test_our_detection_is_wyomings_detection_to_a_stock_reader():
    """Home Assistant reads our detection with Wyoming's own class: the name survives, our fields ride along."""
    event = DetectionEvent(name="hey_jarvis", score=0.8, level_dbfs=-30.0, preroll_ms=0).event()
    assert Detection.is_type(event.type) and Detection.from_event(event).name == "hey_jarvis"
    assert event.data["preroll_ms"] == 0 and "near_miss" not in event.data


@pytest.mark.parametrize(("data", "payload", "kwargs", "problem"), [
    ({"rate": 16000, "width": 2, "channels": 1}, b"\x00" * 3, {}, "whole number"),
    ({"rate": 22050, "width": 2, "channels": 2}, b"", {"mono": True}, "mono"),
    ({"rate": 22050, "width": 2, "channels": 1}, b"", {"expected": MIC_FORMAT}, "16000 Hz"),
    ({"rate": "16000", "width": 2, "channels": 1}, b"", {}, "integers"),
    ({"width": 2, "channels": 1}, b"", {}, "integers"),
])
def test_audio_events_are_refused_with_a_reason(data, payload, kwargs, problem):
    with pytest.raises(AudioFormatError, match=problem) as err:
        audio_event_format(Event(type="audio-chunk", data=data, payload=payload), **kwargs)
    assert err.value.code == "bad_audio_format"


def test_a_good_audio_event_gives_its_format():
    event = AudioChunk(rate=22050, width=2, channels=1, audio=bytes(4096)).event()
    assert audio_event_format(event, mono=True).rate == 22050
    assert audio_event_format(AudioStart(rate=16000, width=2, channels=1).event(), expected=MIC_FORMAT) == MIC_FORMAT
