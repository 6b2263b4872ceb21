"""Text-to-speech on a pool of Wyoming TTS servers (wyoming-piper, another hub, anything that speaks it).

Each sentence is one Wyoming connection to the least-busy healthy server (``synthesize`` ->
``audio-start``, chunks, ``audio-stop``). A server that fails before its first chunk is taken out
and the sentence goes to the next one (or to the local voice, ``local_fallback``). Once audio has
reached the satellite a failure ends the sentence: starting it again would repeat what was heard.

Chunks leave in :attr:`RemoteTextToSpeech.audio_format` (the local voice's, else 22.05 kHz 16-bit
mono) whatever rate the server uses, so a turn announces its format before the first chunk exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize

from common.pcm import resample_pcm
from hub.pipeline.tts import Synthesizer, TtsError
from hub.remote.pool import ServerPool, parse_tcp
from hub.remote.wyoming_stt import describe
from protocol.audio import TTS_FORMAT, AudioFormatError, PcmFormat
from protocol.wyoming_events import audio_event_format

_LOGGER = logging.getLogger(__name__)


class TtsUnreachable(TtsError):
    code = "tts_unreachable"


def tts_pool(uris: Sequence[str], **kwargs: float) -> ServerPool[tuple[str, int]]:
    return ServerPool("tts", [(u, parse_tcp(u)) for u in uris], lambda a: describe(a, "tts"), **kwargs)


class RemoteTextToSpeech:
    def __init__(self, pool: ServerPool[tuple[str, int]], *, local: Synthesizer | None = None,
                 request_timeout_s: float = 10.0) -> None:
        self.pool = pool
        self.local = local
        self.audio_format: PcmFormat = local.audio_format if local is not None else TTS_FORMAT
        self._timeout_s = request_timeout_s
        self.retried = 0
        self.fell_back = 0

    @property
    def name(self) -> str:
        return self.pool.model_name() or "wyoming"

    async def synthesize(self, text: str, *, deterministic: bool = False) -> AsyncIterator[bytes]:
        """Chunks of ``text`` spoken, in :attr:`audio_format`; closing the iterator closes the connection."""
        tried: set[str] = set()
        while (server := self.pool.pick(tried)) is not None:
            tried.add(server.uri)
            sent = False
            try:
                with self.pool.using(server):
                    async for chunk in self._ask(server.address, text):
                        sent = True
                        yield chunk
                self.pool.succeeded(server)
                if len(tried) > 1:
                    self.retried += 1
                return
            except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError) as err:
                self.pool.failed(server, err if str(err) else type(err).__name__)
                if sent:
                    raise TtsError(f"speech synthesis failed: {server.uri} stopped mid-sentence ({err})") from err
        if self.local is None:
            raise TtsUnreachable(f"speech synthesis failed: no server reachable: {self.pool.describe()}")
        self.fell_back += 1
        _LOGGER.warning("no speech synthesis server usable (%s): speaking with the local voice", self.pool.describe())
        audio = self.local.synthesize(text, deterministic=deterministic)
        try:
            async for chunk in audio:
                yield chunk
        finally:
            await audio.aclose()  # type: ignore[attr-defined]

    async def _ask(self, address: tuple[str, int], text: str) -> AsyncIterator[bytes]:
        host, port = address
        out = self.audio_format
        async with AsyncTcpClient(host, port) as client:
            await client.write_event(Synthesize(text=text).event())
            while True:
                event = await asyncio.wait_for(client.read_event(), self._timeout_s)
                if event is None:
                    raise ConnectionError("the server closed the connection before audio-stop")
                if AudioStart.is_type(event.type):
                    _server_format(event)
                elif AudioChunk.is_type(event.type):
                    yield resample_pcm(event.payload or b"", _server_format(event).rate, out.rate)
                elif AudioStop.is_type(event.type):
                    return
                elif Error.is_type(event.type):
                    error = Error.from_event(event)
                    raise ConnectionError(f"the server refused: {error.text} ({error.code})")


def _server_format(event: Event) -> PcmFormat:
    """protocol's one audio check (16-bit mono, a rate worth resampling); a server failing it is a failed server."""
    try:
        return audio_event_format(event, mono=True)
    except AudioFormatError as err:
        raise ConnectionError(f"the server's audio is refused: {err}") from err
