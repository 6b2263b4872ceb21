"""The hub's own Wyoming server: its STT (``asr``) and TTS for Home Assistant and other clients.

Wyoming has no authentication, so it binds to loopback unless told otherwise and, when an
allow list is configured, closes connections from any other address straight away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from common.wyoming_peer import WyomingPeer
from hub import __version__
from hub.chunker import SentenceChunker
from hub.stt import SttError
from hub.tts import resample_pcm
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT
from protocol.framing import stream_limit

if TYPE_CHECKING:
    from hub.app import Models
    from hub.settings import WyomingServiceSettings

_LOGGER = logging.getLogger(__name__)

MAX_TTS_CHARS = 2000
_ATTRIBUTION = Attribution(name="hearth", url="https://github.com/hearth-voice")


class WyomingService:
    def __init__(self, settings: WyomingServiceSettings, models: Models) -> None:
        self.settings = settings
        self.models = models
        self.port = settings.port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self.refused = 0

    def info(self) -> Info:
        stt, tts = self.models.stt, self.models.tts
        return Info(
            asr=[AsrProgram(name="hearth-stt", attribution=_ATTRIBUTION, installed=True,
                            description="faster-whisper on the hearth hub", version=__version__,
                            models=[AsrModel(name=stt.name, attribution=_ATTRIBUTION, installed=True,
                                             description=f"whisper {stt.name}", version=None, languages=["en"])])],
            tts=[TtsProgram(name="hearth-tts", attribution=_ATTRIBUTION, installed=True,
                            description="piper on the hearth hub", version=__version__,
                            supports_synthesize_streaming=True,
                            voices=[TtsVoice(name=tts.name, attribution=_ATTRIBUTION, installed=True,
                                             description=tts.name, version=None, languages=["en_US"])])],
        )

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.settings.host, self.settings.port,
                                                  limit=stream_limit())
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("Wyoming asr+tts on %s:%d%s", self.settings.host, self.port,
                     f" (allowed: {', '.join(self.settings.allow)})" if self.settings.allow else "")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        peer_host = (writer.get_extra_info("peername") or ("?",))[0]
        peer = WyomingPeer(reader, writer, f"wyoming client {peer_host}")
        try:
            if self.settings.allow and peer_host not in self.settings.allow:
                self.refused += 1
                _LOGGER.warning("refused Wyoming connection from %s: not in the allow list", peer_host)
                await peer.send(Error(text="not allowed", code="not_allowed").event())
                return
            await self._serve(peer)
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("%s: connection failed", peer.label)
        finally:
            await peer.close()
            self._clients.discard(task)

    async def _serve(self, peer: WyomingPeer) -> None:
        audio: bytearray | None = None
        stream: SentenceChunker | None = None
        streamed = 0
        rate = MIC_FORMAT.rate
        limit = MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS
        while (event := await peer.read()) is not None:
            kind = event.type
            if Describe.is_type(kind):
                await peer.send(self.info().event())
            elif Ping.is_type(kind):
                await peer.send(Pong(text=event.data.get("text")).event())
            elif Transcribe.is_type(kind):
                audio = bytearray()
            elif AudioStart.is_type(kind):
                start = AudioStart.from_event(event)
                if start.width != 2 or start.channels != 1:
                    await peer.send(Error(text="audio must be 16-bit mono", code="bad_audio_format").event())
                    audio = None
                    continue
                rate = start.rate
                if audio is None:
                    audio = bytearray()
            elif AudioChunk.is_type(kind):
                if audio is None:
                    continue
                chunk = AudioChunk.from_event(event)
                if chunk.width != 2 or chunk.channels != 1:
                    await peer.send(Error(text="audio must be 16-bit mono", code="bad_audio_format").event())
                    audio = None
                    continue
                rate = chunk.rate
                audio += chunk.audio
                if len(audio) > limit * rate / MIC_FORMAT.rate:
                    await peer.send(Error(text=f"audio longer than {MAX_TURN_AUDIO_SECONDS:.0f} s",
                                          code="too_long").event())
                    audio = None
            elif AudioStop.is_type(kind):
                if audio is None:
                    continue
                pcm = resample_pcm(bytes(audio), rate, MIC_FORMAT.rate) if rate != MIC_FORMAT.rate else bytes(audio)
                audio = None
                try:
                    result = await self.models.stt.transcribe(pcm, peer.label)
                except SttError as err:
                    await peer.send(Error(text=str(err), code="stt_failed").event())
                    continue
                await peer.send(Transcript(text=result.text).event())
            elif SynthesizeStart.is_type(kind):
                # Streaming text (an LLM's answer as it is written): each sentence is spoken as soon as it
                # is complete. Clients also send the whole text as `synthesize` for older servers: ignored.
                stream, streamed = SentenceChunker(), 0
            elif SynthesizeChunk.is_type(kind):
                if stream is None:
                    continue
                text = SynthesizeChunk.from_event(event).text
                streamed += len(text)
                if streamed > MAX_TTS_CHARS:
                    await peer.send(Error(text=f"text longer than {MAX_TTS_CHARS} characters", code="too_long").event())
                    stream = None
                    continue
                for sentence in stream.feed(text):
                    await self._synthesize(peer, sentence)
            elif SynthesizeStop.is_type(kind):
                if stream is not None:
                    for sentence in stream.flush():
                        if sentence.strip():
                            await self._synthesize(peer, sentence)
                stream = None
                await peer.send(SynthesizeStopped().event())
            elif Synthesize.is_type(kind) and stream is None:
                await self._synthesize(peer, Synthesize.from_event(event).text)

    async def _synthesize(self, peer: WyomingPeer, text: str) -> None:
        if len(text) > MAX_TTS_CHARS:
            await peer.send(Error(text=f"text longer than {MAX_TTS_CHARS} characters", code="too_long").event())
            return
        fmt = self.models.tts.audio_format
        await peer.send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event())
        audio = self.models.tts.synthesize(text)
        try:
            async for chunk in audio:
                await peer.send(AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=chunk).event())
        finally:
            with contextlib.suppress(Exception):
                await audio.aclose()  # type: ignore[attr-defined]
        await peer.send(AudioStop().event())
