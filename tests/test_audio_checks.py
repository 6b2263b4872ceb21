"""protocol's one audio check guards every place audio comes in from a peer, here a remote TTS server.

A server that answers in a format we do not take (a 1 Hz rate that would cost thousands of times its
bytes to resample, stereo, 32-bit) is a failed server: the sentence goes to the next one, and none is
played in the wrong format. Real Wyoming servers on port-0 sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.tts import Synthesize

from common.wyoming_peer import WyomingPeer
from hub.remote.wyoming_tts import RemoteTextToSpeech, TtsUnreachable, tts_pool
from protocol.audio import TTS_FORMAT
from protocol.framing import stream_limit


@asynccontextmanager
async def tts_server(rate: int, width: int, channels: int, seconds: float = 0.5) -> AsyncIterator[str]:
    """A Wyoming TTS server that speaks ``seconds`` of silence in the given format; yields its address."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = WyomingPeer(reader, writer, "tts")
        try:
            while (event := await peer.read()) is not None:
                if Synthesize.is_type(event.type):
                    fmt = {"rate": rate, "width": width, "channels": channels}
                    await peer.send(AudioStart(**fmt).event())
                    await peer.send(AudioChunk(audio=bytes(int(rate * seconds) * width * channels), **fmt).event())
                    await peer.send(AudioStop().event())
        finally:
            await peer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=stream_limit())
    try:
        yield f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(("rate", "width", "channels"), [(1, 2, 1), (22050, 2, 2), (22050, 4, 1)],
                         ids=["1 Hz", "stereo", "32-bit"])
async def test_a_tts_server_speaking_a_format_we_refuse_is_a_failed_server(rate, width, channels):
    async with tts_server(rate, width, channels) as bad, tts_server(16000, 2, 1) as good:
        pool = tts_pool([bad, good])
        tts = RemoteTextToSpeech(pool)
        audio = b"".join([chunk async for chunk in tts.synthesize("The kitchen light is on.")])
        assert [s.healthy for s in pool.servers] == [False, True] and tts.retried == 1
        # The good server's 16 kHz came out at the voice's rate: half a second is still half a second.
        assert abs(TTS_FORMAT.duration_ms(len(audio)) - 500) < 5
        with pytest.raises(TtsUnreachable):
            _ = [c async for c in RemoteTextToSpeech(tts_pool([bad])).synthesize("Hello.")]
