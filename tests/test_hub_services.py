"""The hub's own Wyoming asr/tts service (for Home Assistant) and its Prometheus endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from common.local_broker import free_port
from common.wyoming_peer import WyomingPeer
from hub.app import Hub
from hub.settings import HubSettings
from protocol.framing import stream_limit

pytestmark = pytest.mark.timeout(120)


@contextlib.asynccontextmanager
async def service_hub(hub_models, tmp_path, **settings: object) -> AsyncIterator[Hub]:
    """A hub serving Wyoming asr/tts on a free port, without MQTT or satellites."""
    hub = Hub(HubSettings.model_validate({"data_dir": str(tmp_path), "mqtt": {"enabled": False},
                                          "wyoming": {"port": 0}, **settings}), hub_models)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.close()


async def _connect(port: int) -> WyomingPeer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=stream_limit())
    return WyomingPeer(reader, writer, "test client")


async def _read_until(peer: WyomingPeer, kind: str) -> list:
    events = []
    while (event := await asyncio.wait_for(peer.read(), 30)) is not None:
        events.append(event)
        if event.type == kind:
            return events
    raise AssertionError(f"connection closed before {kind}: {[e.type for e in events]}")


async def test_home_assistant_can_use_hub_stt_and_tts_over_wyoming(hub_models, speech, tmp_path):
    metrics_port = free_port()
    async with service_hub(hub_models, tmp_path, metrics_port=metrics_port) as hub:
        peer = await _connect(hub.wyoming.port)
        await peer.send(Describe().event())
        info = Info.from_event((await _read_until(peer, "info"))[-1])
        assert info.asr[0].models[0].name == "tiny.en" and info.tts[0].voices

        await peer.send(Synthesize(text="The laundry is done.").event())
        events = await _read_until(peer, "audio-stop")
        audio = b"".join(AudioChunk.from_event(e).audio for e in events if e.type == "audio-chunk")
        rate = AudioStart.from_event(events[0]).rate
        assert len(audio) > rate  # more than half a second of speech

        # The TTS output (22 kHz) goes straight back in: the service resamples for whisper.
        await peer.send(Transcribe().event())
        await peer.send(AudioStart(rate=rate, width=2, channels=1).event())
        for start in range(0, len(audio), 4096):
            await peer.send(AudioChunk(rate=rate, width=2, channels=1, audio=audio[start:start + 4096]).event())
        await peer.send(AudioStop().event())
        transcript = Transcript.from_event((await _read_until(peer, "transcript"))[-1])
        assert "laundry" in transcript.text.lower()

        await peer.send(Synthesize(text="x" * 5000).event())
        error = (await _read_until(peer, "error"))[-1]
        assert error.data["code"] == "too_long"
        await peer.close()

        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode())
        assert "hearth_hub_stt_queue_depth" in body and "hearth_hub_rss_mb" in body


async def test_wyoming_allow_list_refuses_other_peers(hub_models, tmp_path):
    async with service_hub(hub_models, tmp_path, wyoming={"port": 0, "allow": ["192.0.2.7"]}) as hub:
        peer = await _connect(hub.wyoming.port)
        error = (await _read_until(peer, "error"))[-1]
        assert error.data["code"] == "not_allowed"
        assert await asyncio.wait_for(peer.read(), 10) is None  # and the connection is closed
        assert hub.wyoming.refused == 1


async def test_streaming_tts_speaks_each_sentence_as_soon_as_its_text_arrives(hub_models, tmp_path):
    from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

    async with service_hub(hub_models, tmp_path) as hub:
        peer = await _connect(hub.wyoming.port)
        await peer.send(Describe().event())
        info = Info.from_event((await _read_until(peer, "info"))[-1])
        assert info.tts[0].supports_synthesize_streaming

        await peer.send(SynthesizeStart().event())
        for piece in ("The laundry ", "is done. The dish", "washer is still "):
            await peer.send(SynthesizeChunk(text=piece).event())
        # The first sentence is complete: its audio comes while the rest of the text is still being written.
        first = await _read_until(peer, "audio-stop")
        assert first[0].type == "audio-start" and any(e.type == "audio-chunk" for e in first)
        await peer.send(SynthesizeChunk(text="running.").event())
        await peer.send(Synthesize(text="The laundry is done. The dishwasher is still running.").event())  # compat
        await peer.send(SynthesizeStop().event())
        rest = await _read_until(peer, "synthesize-stopped")
        assert [e.type for e in rest].count("audio-start") == 1  # the second sentence only; the compat copy ignored
        assert rest[-2].type == "audio-stop"
        await peer.close()
