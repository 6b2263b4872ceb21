"""Speech-to-text on a pool of Wyoming ASR servers (wyoming-faster-whisper, another hub, anything that speaks it).

Each utterance is one Wyoming connection to the least-busy healthy server: ``transcribe``,
``audio-start``, the PCM in 100 ms chunks, ``audio-stop``, then the ``transcript``. A server that
fails on the way (refused, reset, closed before the transcript, no answer within
``request_timeout_s``) is taken out of the pool and the same utterance goes to the next one, so
a server dying mid-turn costs that turn the time it had spent there, not the turn. When every
server is out the local model answers if there is one (``local_fallback``), otherwise the turn
ends with ``stt_unreachable``.

The same call signature as :class:`hub.pipeline.stt.SpeechToText` (:class:`hub.pipeline.stt.Recognizer`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info

from hub.pipeline.stt import Recognizer, SttBusyError, SttError, SttInputError, Transcription
from hub.remote.pool import ServerPool, parse_tcp
from protocol.audio import MAX_TURN_AUDIO_SECONDS, MIC_FORMAT

_LOGGER = logging.getLogger(__name__)
_CHUNK_BYTES = MIC_FORMAT.bytes_per_second // 10


class SttUnreachable(SttError):
    code = "stt_unreachable"


class _ServerRefused(Exception):
    """The server answered with an ``error`` event (it is alive; the utterance may still work elsewhere)."""


async def describe(address: tuple[str, int], kind: str = "asr") -> str:
    """Ask a Wyoming server ``describe``; the name of its first model/voice of ``kind`` ("" if none).

    Raises ``ConnectionError`` when it closes without an ``info`` (or offers no ``kind`` service).
    """
    host, port = address
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Describe().event())
        while (event := await client.read_event()) is not None:
            if Info.is_type(event.type):
                info = Info.from_event(event)
                # Installed models first: wyoming-piper lists every voice it could download, installed or not.
                items = ([m for p in info.asr for m in p.models] if kind == "asr"
                         else [v for p in info.tts for v in p.voices])
                programs = info.asr if kind == "asr" else info.tts
                if kind == "tts" and len(items) > 1:
                    items = []  # wyoming-piper lists (as installed) every voice it knows: its name says more
                names = ([i.name for i in items if i.installed] + [i.name for i in items]
                         + [p.name for p in programs])
                if not names:
                    raise ConnectionError(f"it offers no {kind} service")
                return str(names[0]).rstrip("/").rsplit("/", 1)[-1]  # a model path: its folder's name
    raise ConnectionError("closed without answering describe")


def stt_pool(uris: Sequence[str], **kwargs: float) -> ServerPool[tuple[str, int]]:
    return ServerPool("stt", [(u, parse_tcp(u)) for u in uris], lambda a: describe(a, "asr"), **kwargs)


class RemoteSpeechToText:
    """Transcribes on a :class:`ServerPool` of Wyoming ASR servers, with an optional local fallback."""

    def __init__(self, pool: ServerPool[tuple[str, int]], *, local: Recognizer | None = None,
                 language: str | None = "en", request_timeout_s: float = 20.0, max_pending: int = 32) -> None:
        self.pool = pool
        self.local = local
        self._language = language
        self._timeout_s = request_timeout_s
        self._max_pending = max_pending
        self.vocabulary: tuple[str, ...] = tuple(local.vocabulary) if local is not None else ()
        """Kept for the home-control code; Wyoming's ``transcribe`` has no field to carry it to the server."""
        self.retried = 0
        """Utterances that a failing server handed to another one."""
        self.fell_back = 0
        """Utterances the local model answered because every server was out."""

    @property
    def name(self) -> str:
        return self.pool.model_name() or "wyoming"

    @property
    def queue_depth(self) -> int:
        """Utterances beyond one per healthy server (they wait in some server's queue)."""
        waiting = max(0, self.pool.in_flight - self.pool.healthy_count)
        return waiting + (self.local.queue_depth if self.local is not None else 0)

    async def transcribe(self, pcm: bytes, satellite: str, *, vocabulary: Sequence[str] = ()) -> Transcription:
        if len(pcm) % MIC_FORMAT.width:
            raise SttInputError(f"audio length {len(pcm)} is not whole 16-bit samples")
        if len(pcm) > MIC_FORMAT.bytes_per_second * MAX_TURN_AUDIO_SECONDS:
            raise SttInputError(f"utterance longer than {MAX_TURN_AUDIO_SECONDS:.0f} s")
        if self.pool.in_flight >= self._max_pending:
            raise SttBusyError(f"speech recognition backlog full ({self._max_pending} utterances)")
        tried: set[str] = set()
        refusals: list[str] = []
        while (server := self.pool.pick(tried)) is not None:
            tried.add(server.uri)
            started = time.perf_counter()
            try:
                with self.pool.using(server):
                    text = await asyncio.wait_for(self._ask(server.address, pcm), self._timeout_s)
            except _ServerRefused as err:
                refusals.append(f"{server.uri}: {err}")
            except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError) as err:
                self.pool.failed(server, err if str(err) else type(err).__name__)
                _LOGGER.info("%s: %s failed mid-utterance: trying the next server", satellite, server.uri)
            else:
                self.pool.succeeded(server)
                if len(tried) > 1:
                    self.retried += 1
                    _LOGGER.info("%s: utterance transcribed on %s after %d failed server(s)",
                                 satellite, server.uri, len(tried) - 1)
                return Transcription(text.strip(), MIC_FORMAT.duration_ms(len(pcm)),
                                     1000 * (time.perf_counter() - started))
        if self.local is not None:
            self.fell_back += 1
            _LOGGER.warning("%s: no speech server usable (%s): transcribing locally", satellite, self.pool.describe())
            return await self.local.transcribe(pcm, satellite, vocabulary=vocabulary)
        if refusals:
            raise SttError("speech servers refused the utterance: " + "; ".join(refusals))
        raise SttUnreachable(f"no speech recognition server reachable: {self.pool.describe()}")

    async def _ask(self, address: tuple[str, int], pcm: bytes) -> str:
        host, port = address
        fmt = MIC_FORMAT
        async with AsyncTcpClient(host, port) as client:
            await client.write_event(Transcribe(language=self._language).event())
            await client.write_event(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event())
            for start in range(0, len(pcm), _CHUNK_BYTES):
                await client.write_event(AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels,
                                                    audio=pcm[start:start + _CHUNK_BYTES]).event())
            await client.write_event(AudioStop().event())
            while (event := await client.read_event()) is not None:
                if Transcript.is_type(event.type):
                    return Transcript.from_event(event).text or ""
                if Error.is_type(event.type):
                    error = Error.from_event(event)
                    raise _ServerRefused(f"{error.text} ({error.code})")
                # transcript-start / transcript-chunk (streaming servers): the final transcript follows
        raise ConnectionError("the server closed the connection before the transcript")
