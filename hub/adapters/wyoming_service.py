"""The hub's own Wyoming server: its STT (``asr``) and TTS for Home Assistant and other clients.

Wyoming has no authentication, so it binds to loopback unless told otherwise and, when an
allow list is configured, closes connections from any other address straight away. It holds
at most :data:`MAX_CLIENTS` connections and closes one that sends nothing for
:data:`IDLE_TIMEOUT_S`. Audio is checked at the edge (:func:`protocol.audio.check_audio`: rate,
width, channels, whole frames) and capped in bytes computed from seconds of that format; a bad
event gets an ``error`` event with a stable code, never a traceback; resampling runs off the
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from common.log_limit import LogLimiter
from common.wyoming_peer import WyomingPeer
from common.wyoming_server import WyomingServer
from hub import __version__
from hub.pipeline.chunker import SentenceChunker
from hub.pipeline.stt import SttError
from hub.pipeline.tts import TtsError, resample_pcm
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT, AudioFormatError, PcmFormat, max_bytes
from protocol.wyoming_events import audio_event_format

if TYPE_CHECKING:
    from hub.loaded_models import Models
    from hub.settings import WyomingServiceSettings

_LOGGER = logging.getLogger(__name__)

MAX_TTS_CHARS = 2000
MAX_CLIENTS = 16
"""Concurrent Wyoming connections (Home Assistant uses one or two)."""
IDLE_TIMEOUT_S = 120.0
"""A connection that sends nothing this long is closed (a Home Assistant pipeline is far quicker)."""
_ATTRIBUTION = Attribution(name="hearth", url="https://github.com/hearth-voice")
SERVICE_NAME = "Hearth hub"
"""Home Assistant titles the Wyoming entry after the first program: the service is STT *and* TTS."""
STT_LANGUAGES = ("en", "en-US", "en-GB", "en-AU", "en-CA", "en-IE", "en-IN", "en-NZ", "en-ZA")
"""Whisper hears English, whatever the accent: Home Assistant asks for its pipeline's exact tag
(``en-US``) and refuses an engine that does not list it (HTTP 415), so the regional tags are listed too."""


def base_language(tag: str) -> str:
    """``en-US``, ``en_GB``, ``EN`` -> ``en``."""
    return tag.replace("_", "-").split("-")[0].strip().lower()


class WyomingService:
    def __init__(self, settings: WyomingServiceSettings, models: Models) -> None:
        self.settings = settings
        self.models = models
        self._server = WyomingServer(settings.host, settings.port, self._serve,
                                     label=lambda host: f"wyoming client {host}", allowed=settings.allow or None,
                                     max_connections=MAX_CLIENTS, logger=_LOGGER)
        self.bad_audio = 0
        self._log = LogLimiter(_LOGGER)

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when the settings say 0, once started)."""
        return self._server.port

    @property
    def refused(self) -> int:
        """Connections refused: not in the allow list, or one too many."""
        return self._server.refused

    def info(self) -> Info:
        stt, tts = self.models.stt, self.models.tts
        return Info(
            asr=[AsrProgram(name=SERVICE_NAME, attribution=_ATTRIBUTION, installed=True,
                            description="Speech-to-text (faster-whisper) on the Hearth hub", version=__version__,
                            models=[AsrModel(name=stt.name, attribution=_ATTRIBUTION, installed=True,
                                             description=f"whisper {stt.name}", version=None,
                                             languages=list(STT_LANGUAGES))])],
            tts=[TtsProgram(name=SERVICE_NAME, attribution=_ATTRIBUTION, installed=True,
                            description="Text-to-speech (piper) on the Hearth hub", version=__version__,
                            supports_synthesize_streaming=True,
                            voices=[TtsVoice(name=tts.name, attribution=_ATTRIBUTION, installed=True,
                                             description=tts.name, version=None, languages=["en_US"])])],
        )

    async def start(self) -> None:
        await self._server.start()
        _LOGGER.info("Wyoming asr+tts on %s:%d%s", self.settings.host, self.port,
                     f" (allowed: {', '.join(self.settings.allow)})" if self.settings.allow else "")

    async def close(self) -> None:
        await self._server.close()

    async def _read(self, peer: WyomingPeer) -> Event | None:
        try:
            return await asyncio.wait_for(peer.read(), IDLE_TIMEOUT_S)
        except TimeoutError:
            _LOGGER.info("%s: nothing for %.0f s; closing", peer.label, IDLE_TIMEOUT_S)
            with contextlib.suppress(ConnectionError):
                await peer.send(Error(text=f"idle for {IDLE_TIMEOUT_S:.0f} s", code="idle").event())
            return None

    async def _serve(self, peer: WyomingPeer) -> None:
        audio: bytearray | None = None
        stream: SentenceChunker | None = None
        streamed = 0
        fmt = MIC_FORMAT
        wrong_language = False  # this utterance's audio is ignored: its language was refused
        while (event := await self._read(peer)) is not None:
            kind = event.type
            if Describe.is_type(kind):
                await peer.send(self.info().event())
            elif Ping.is_type(kind):
                await peer.send(Pong(text=event.data.get("text")).event())
            elif Transcribe.is_type(kind):
                language = Transcribe.from_event(event).language
                if language and base_language(language) not in {base_language(t) for t in STT_LANGUAGES}:
                    await peer.send(Error(text=f"speech-to-text here is English only, not {language}",
                                          code="unsupported_language").event())
                    audio, wrong_language = None, True
                    continue
                audio, wrong_language = bytearray(), False
            elif AudioStart.is_type(kind):
                try:
                    fmt = _audio_format(event, mono=True)
                except AudioFormatError as err:
                    await self._refuse_audio(peer, err)
                    audio = None
                    continue
                if audio is None and not wrong_language:
                    audio = bytearray()
            elif AudioChunk.is_type(kind):
                if audio is None:
                    continue
                try:
                    chunk_fmt = _audio_format(event, mono=True)
                except AudioFormatError as err:
                    await self._refuse_audio(peer, err)
                    audio = None
                    continue
                if audio and chunk_fmt != fmt:
                    await self._refuse_audio(peer, AudioFormatError(
                        f"audio format changed within one utterance ({fmt.rate} -> {chunk_fmt.rate} Hz)"))
                    audio = None
                    continue
                fmt = chunk_fmt
                audio += event.payload or b""
                if len(audio) > max_bytes(fmt, MAX_TURN_AUDIO_SECONDS):
                    await peer.send(Error(text=f"audio longer than {MAX_TURN_AUDIO_SECONDS:.0f} s",
                                          code="too_long").event())
                    audio = None
            elif AudioStop.is_type(kind):
                wrong_language = False
                if audio is None:
                    continue
                pcm = bytes(audio)
                if fmt.rate != MIC_FORMAT.rate:
                    pcm = await asyncio.to_thread(resample_pcm, pcm, fmt.rate, MIC_FORMAT.rate)
                audio = None
                try:
                    result = await self.models.stt.transcribe(pcm, peer.label)
                except SttError as err:
                    await peer.send(Error(text=str(err), code=err.code).event())
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

    async def _refuse_audio(self, peer: WyomingPeer, err: AudioFormatError) -> None:
        self.bad_audio += 1
        self._log.warning("bad audio", "%s: %s", peer.label, err)
        await peer.send(Error(text=str(err), code=err.code).event())

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
        except TtsError as err:
            self._log.warning("tts failed", "%s: %s", peer.label, err)
            await peer.send(Error(text=str(err), code=err.code).event())
            return
        finally:
            with contextlib.suppress(Exception):
                await audio.aclose()  # type: ignore[attr-defined]
        await peer.send(AudioStop().event())


def _audio_format(event: Event, *, mono: bool) -> PcmFormat:
    """The checked format of an ``audio-start``/``audio-chunk`` (speech to transcribe must be mono)."""
    return audio_event_format(event, mono=mono)
