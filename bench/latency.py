"""Last voiced sound of the question -> first answer audio at the satellite: our hub vs. Home Assistant.

**Zero point** for every side: the question's last voiced sample, found on the clean clip by energy
(the end of the last 10 ms frame whose RMS is within 40 dB of the loudest frame and above -50 dBFS),
and placed on the clock where the satellite's paced microphone delivered it.

**Ours**: the real hub in this process drives a scripted Wyoming satellite (testbed/simsat.py) over TCP
that speaks piper-made questions in real time; intent-aware end of speech, speculative STT and the
speculative answer as configured. Model calls are timed through thin wrappers (one clock).

**Baseline A, real**: Home Assistant 2025.4.4 (the newest that installs here) drives our satellite over
Wyoming with the real ``wyoming-faster-whisper`` and ``wyoming-piper`` (bench/ha_baseline.py), its own
conversation agent and default VAD, for the fast-path cases; timed at the satellite.

**Baseline B, reproduced**: Home Assistant's current streaming turn (2025.7 and later) for language-model
answers, against the same real servers: end of speech after HA's default 0.7 s of silence
(``assist_pipeline/vad.py``: ``VadSensitivity.DEFAULT`` -> 0.7 s, ``VoiceCommandSegmenter.silence_seconds``
0.7; our Silero endpointer stands in for HA's VAD), the utterance streamed to STT during speech and
``audio-stop`` when the window closes, the LLM's deltas fed to wyoming-piper as a text stream
(``synthesize-start``/``synthesize-chunk``/``synthesize-stop``) once the reply exceeds 60 characters
(``assist_pipeline/pipeline.py``: ``STREAM_RESPONSE_CHARS = 60``; a shorter reply is synthesised whole),
and piper's first audio chunk forwarded to a satellite socket at once.

**In-process sequential**: B's sequence with the models called in this process, no streaming.

    .venv/bin/python -m bench.latency [--repeats 3] [--no-ha]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import async_read_event, async_write_event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from bench import peers
from bench.pause_set import DEFAULT_WINDOWS
from bench.pause_set import measure as measure_pauses
from bench.pause_set import report as pause_report
from bench.results import write_result
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.event_data import TurnEnded
from hub.conversation.events import EventKind
from hub.llm.base import LlmRequest
from hub.loaded_models import Models
from hub.pipeline.endpointing import Endpointer, EndpointSettings
from hub.settings import HubSettings
from protocol.audio import MIC_CHUNK_SAMPLES, MIC_FORMAT
from testbed.audio_fixtures import SpeechMaker
from testbed.simsat import SimSatellite


@dataclass(frozen=True)
class Case:
    name: str
    question: str
    style: str
    llm: bool
    device: str | None = None
    """An entity the command switches on (reset between runs); needs the Home Assistant peer."""


CASES = [
    Case("fast path: time", "What time is it?", "normal", llm=False),
    Case("fast path: device", "Turn on the big light.", "normal", llm=False, device="light.kitchen_ceiling"),
    Case("one-sentence LLM answer", "What is the capital of France?", "brief", llm=True),
    Case("three-sentence LLM answer", "Tell me about the moon.", "detailed", llm=True),
]
FAST_TARGET, LLM_TARGET, OVERHEAD_TARGET_MS = 0.35, 0.5, 10.0
HA_SILENCE_S = 0.7
"""HA's default end-of-speech silence (assist_pipeline/vad.py: VadSensitivity.DEFAULT.to_seconds() = 0.7)."""
HA_STREAM_RESPONSE_CHARS = 60
"""assist_pipeline/pipeline.py: TTS streams the reply once it is longer than this."""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median([r[key] for r in rows])


# -- the zero point -----------------------------------------------------------------------------------------------

def last_voiced_sample(pcm: bytes, frame: int = 160) -> int:
    """Index of the last voiced sample: the end of the last 10 ms frame within 40 dB of the loudest, above -50 dBFS."""
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    frames = x[: len(x) // frame * frame].reshape(-1, frame)
    db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) / 32768 + 1e-12)
    voiced = np.flatnonzero(db > max(-50.0, float(db.max()) - 40.0))
    return int((voiced[-1] + 1) * frame - 1)


def ha_window_ms(pcm: bytes, last_voiced: int, silence_s: float = HA_SILENCE_S) -> float:
    """ms from the last voiced sample until a 0.7 s end-of-speech window closes on this clip (VAD in audio time)."""
    endpointer = Endpointer(EndpointSettings(silence_ms=int(silence_s * 1000)))
    audio = pcm + bytes(int(MIC_FORMAT.bytes_per_second * (silence_s + 1.0)))
    step = MIC_CHUNK_SAMPLES * MIC_FORMAT.width
    for offset in range(0, len(audio), step):
        if endpointer.feed(audio[offset:offset + step], 0.0):
            break
    return endpointer.audio_ms - 1000 * (last_voiced + 1) / MIC_FORMAT.rate


# -- model call probes: the hub's models, wrapped to time each call on the hub clock -------------------------------

@dataclass
class LlmCall:
    start: float
    request: LlmRequest
    pieces: list[float] = field(default_factory=list)
    end: float | None = None


@dataclass
class Calls:
    stt: list[tuple[float, float]] = field(default_factory=list)
    llm: list[LlmCall] = field(default_factory=list)
    tts: list[tuple[float, list[float]]] = field(default_factory=list)

    def clear(self) -> None:
        self.stt.clear()
        self.llm.clear()
        self.tts.clear()


class _Probe:
    def __init__(self, inner: Any, calls: Calls) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SttProbe(_Probe):
    async def transcribe(self, pcm: bytes, satellite: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = await self._inner.transcribe(pcm, satellite, **kwargs)
        self._calls.stt.append((started, time.monotonic()))
        return result


class LlmProbe(_Probe):
    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        return self._stream(request)

    async def _stream(self, request: LlmRequest) -> AsyncIterator[str]:
        call = LlmCall(time.monotonic(), request)
        self._calls.llm.append(call)
        inner = self._inner.stream(request)
        try:
            async for piece in inner:
                call.pieces.append(time.monotonic())
                yield piece
            call.end = time.monotonic()
        finally:
            with contextlib.suppress(Exception):
                await inner.aclose()


class TtsProbe(_Probe):
    def synthesize(self, text: str, **kwargs: Any) -> AsyncIterator[bytes]:
        return self._synthesize(text, **kwargs)

    async def _synthesize(self, text: str, **kwargs: Any) -> AsyncIterator[bytes]:
        times: list[float] = []
        self._calls.tts.append((time.monotonic(), times))
        inner = self._inner.synthesize(text, **kwargs)
        try:
            async for chunk in inner:
                times.append(time.monotonic())
                yield chunk
        finally:
            with contextlib.suppress(Exception):
                await inner.aclose()


# -- ours ------------------------------------------------------------------------------------------------------------

@dataclass
class OurTurn:
    stages: dict[str, float]
    response: str
    handler: str
    request: LlmRequest | None
    by: str
    speculative: str | None


async def ours(hub: Hub, sat: SimSatellite, calls: Calls, pcm: bytes, last_voiced: int, style: str) -> OurTurn:
    hub.services.style_for = lambda satellite, room: style
    recorder = EventRecorder()
    unsubscribe = hub.bus.subscribe(recorder)
    calls.clear()
    answers_before = len(sat.answers)
    try:
        await sat.say(pcm, trailing_silence_s=2.0)
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 120)
    finally:
        unsubscribe()
    answer = sat.answers[answers_before]
    await asyncio.wait_for(answer.done.wait(), 60)
    assert sat.speech_end_t is not None and answer.first_chunk_t is not None

    def first(kind: EventKind) -> Any:
        return next((e for e in recorder.events if e.kind is kind), None)

    def when(kind: EventKind) -> float | None:
        event = first(kind)
        return None if event is None else event.t

    # SimSatellite sends a chunk when its last sample is "captured": the chunk holding the clip's end left at
    # speech_end_t, and the last voiced sample was spoken that many samples earlier.
    chunk = MIC_CHUNK_SAMPLES
    samples = len(pcm) // MIC_FORMAT.width
    zero = sat.speech_end_t - (((samples - 1) // chunk + 1) * chunk - (last_voiced + 1)) / MIC_FORMAT.rate
    decided, transcript = when(EventKind.SPEECH_ENDED), when(EventKind.TRANSCRIPT)
    sentence, sent = when(EventKind.SENTENCE), when(EventKind.AUDIO_STARTED)
    first_token = when(EventKind.FIRST_TOKEN)
    assert decided is not None and transcript is not None and sentence is not None and sent is not None
    used_stt = max((c for c in calls.stt if c[1] <= transcript), key=lambda c: c[1])
    stt_after_decision = max(0.0, used_stt[1] - decided)
    llm_critical = 0.0
    request = None
    llm_start = None
    adopted = [c for c in calls.llm if c.start <= sentence]
    if adopted:
        # The call that spoke (a speculative one may have started before the decision); only its work after the
        # transcript is on the critical path.
        llm = adopted[-1]
        request = llm.request
        llm_start = max(llm.start, transcript)
        outputs = [t for t in (*llm.pieces, llm.end) if t is not None and t <= sentence]
        llm_critical = max(0.0, max(outputs, default=llm_start) - llm_start)
    tts_start, tts_times = calls.tts[0]
    tts_first_chunk = tts_times[0] - tts_start
    action = first(EventKind.DEVICE_ACTION)
    device_ms = float(action.data.ms) if action is not None else 0.0
    total = answer.first_chunk_t - zero
    endpointing = decided - zero
    ms = 1000.0
    llm_started = first(EventKind.LLM_STARTED)
    stages = {
        "total": ms * total,
        "endpointing": ms * endpointing,
        "transcript": ms * (transcript - zero),
        "first_token": ms * (first_token - zero) if first_token is not None else 0.0,
        "first_sentence": ms * (sentence - zero),
        "sent": ms * (sent - zero),
        "stt_compute": ms * (used_stt[1] - used_stt[0]),
        "stt_after_endpointing": ms * stt_after_decision,
        "llm_first_sentence": ms * llm_critical,
        "device": device_ms,
        "tts_first_chunk": ms * tts_first_chunk,
        "overhead": ms * (total - endpointing - stt_after_decision - llm_critical - tts_first_chunk) - device_ms,
        "early": 1.0 if first(EventKind.SPEECH_ENDED).data.by == "command" else 0.0,
        "hit": 1.0 if llm_started is not None and llm_started.data.speculative == "hit" else 0.0,
    }
    report = ended.data
    assert isinstance(report, TurnEnded)
    return OurTurn(stages, report.response, report.handler, request,
                   str(first(EventKind.SPEECH_ENDED).data.by),
                   None if llm_started is None else llm_started.data.speculative)


# -- baselines B and in-process ---------------------------------------------------------------------------------------

class SatelliteSink:
    """Stands for the satellite in baseline B: records when the first answer chunk arrives."""

    def __init__(self) -> None:
        self.first_chunk_t: float | None = None
        self.got_chunk = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        _, self._writer = await asyncio.open_connection("127.0.0.1", port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while (event := await async_read_event(reader)) is not None:
                if AudioChunk.is_type(event.type) and self.first_chunk_t is None:
                    self.first_chunk_t = time.monotonic()
                    self.got_chunk.set()
        finally:
            writer.close()
            self._tasks.discard(task)

    async def send_first(self, start: AudioStart, chunk: AudioChunk) -> float:
        assert self._writer is not None
        self.first_chunk_t = None
        self.got_chunk.clear()
        await async_write_event(start.event(), self._writer)
        await async_write_event(chunk.event(), self._writer)
        await asyncio.wait_for(self.got_chunk.wait(), 10)
        assert self.first_chunk_t is not None
        return self.first_chunk_t

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=5)
            for task in pending:
                task.cancel()


async def _first_audio(tts: AsyncTcpClient) -> tuple[AudioStart, AudioChunk, float]:
    start: AudioStart | None = None
    while (event := await asyncio.wait_for(tts.read_event(), 60)) is not None:
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
        elif AudioChunk.is_type(event.type):
            assert start is not None
            return start, AudioChunk.from_event(event), time.monotonic()
    raise RuntimeError("wyoming-piper sent no audio")


async def ha_streaming(stt_port: int, tts_port: int, sink: SatelliteSink, models: Models, pcm: bytes,
                       window_ms: float, turn: OurTurn) -> dict[str, float]:
    """Baseline B: Home Assistant's current streaming turn against the real Wyoming servers; stage times in ms."""
    audio = pcm + bytes(int(MIC_FORMAT.bytes_per_second * HA_SILENCE_S))
    step = MIC_CHUNK_SAMPLES * MIC_FORMAT.width
    fmt = dict(rate=MIC_FORMAT.rate, width=MIC_FORMAT.width, channels=MIC_FORMAT.channels)
    async with AsyncTcpClient("127.0.0.1", stt_port) as stt:
        await stt.write_event(Transcribe(language="en").event())
        await stt.write_event(AudioStart(**fmt).event())
        for offset in range(0, len(audio), step):  # streamed during speech: all there when the window closes
            await stt.write_event(AudioChunk(audio=audio[offset:offset + step], **fmt).event())
        await asyncio.sleep(0.1)
        t0 = time.monotonic()  # the window closes: audio-stop
        await stt.write_event(AudioStop().event())
        while (event := await asyncio.wait_for(stt.read_event(), 60)) is not None:
            if Transcript.is_type(event.type):
                text = Transcript.from_event(event).text
                break
        else:
            raise RuntimeError("wyoming-faster-whisper closed without a transcript")
    t_stt = time.monotonic()
    async with AsyncTcpClient("127.0.0.1", tts_port) as tts:
        reader: asyncio.Task[tuple[AudioStart, AudioChunk, float]] = asyncio.create_task(_first_audio(tts))
        try:
            if turn.request is None:  # an intent's reply: short, synthesised whole
                reply, streamed = turn.response, False
                await tts.write_event(Synthesize(text=reply).event())
            else:
                reply, streamed = "", False
                async for piece in models.llm.stream(dataclasses.replace(turn.request, user_text=text.strip())):
                    reply += piece
                    if streamed:
                        await tts.write_event(SynthesizeChunk(text=piece).event())
                    elif len(reply) > HA_STREAM_RESPONSE_CHARS:
                        streamed = True
                        await tts.write_event(SynthesizeStart().event())
                        await tts.write_event(SynthesizeChunk(text=reply).event())
                if streamed:
                    await tts.write_event(Synthesize(text=reply).event())  # HA sends it too; piper ignores it
                    await tts.write_event(SynthesizeStop().event())
                else:
                    await tts.write_event(Synthesize(text=reply).event())
            t_llm = time.monotonic()
            start, chunk, t_first = await reader
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
    t_sat = await sink.send_first(start, chunk)
    ms = 1000.0
    return {"total": window_ms + ms * (t_sat - t0), "window": window_ms, "stt": ms * (t_stt - t0),
            "llm": ms * (t_llm - t_stt), "first_chunk": ms * (t_first - t_stt), "streamed": float(streamed),
            "send": ms * (t_sat - t_first)}


async def in_process(models: Models, pcm: bytes, window_ms: float, turn: OurTurn) -> dict[str, float]:
    """B's sequence with the models in this process and no streaming (full reply, full TTS)."""
    audio = pcm + bytes(int(MIC_FORMAT.bytes_per_second * HA_SILENCE_S))
    t0 = time.monotonic()
    text = (await models.stt.transcribe(audio, "baseline")).text
    t_stt = time.monotonic()
    if turn.request is None:
        reply = turn.response
    else:
        request = dataclasses.replace(turn.request, user_text=text.strip())
        reply = "".join([piece async for piece in models.llm.stream(request)])
    t_llm = time.monotonic()
    chunks = [chunk async for chunk in models.tts.synthesize(reply)]
    assert chunks
    t_tts = time.monotonic()
    ms = 1000.0
    return {"total": window_ms + ms * (t_tts - t0), "stt": ms * (t_stt - t0), "llm": ms * (t_llm - t_stt),
            "tts": ms * (t_tts - t_llm)}


# -- the run ---------------------------------------------------------------------------------------------------------

@dataclass
class CaseResult:
    case: Case
    window_ms: float
    ours: list[dict[str, float]] = field(default_factory=list)
    a: list[dict[str, float]] = field(default_factory=list)
    b: list[dict[str, float]] = field(default_factory=list)
    local: list[dict[str, float]] = field(default_factory=list)
    heard_a: list[str] = field(default_factory=list)
    handler: str = ""


async def _device_off(ha: Any, entity: str) -> None:
    await asyncio.to_thread(ha.peer.call_service, "light", "turn_off", entity_id=entity)
    await asyncio.to_thread(ha.peer.wait_state, entity, "off", 10)


async def _hub_sees(hub: Hub, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while hub.services.matcher.match(text, "Kitchen") is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the hub's home never understood {text!r}")
        await asyncio.sleep(0.5)


async def run(repeats: int, conversation: dict[str, int], use_ha: bool) -> str:
    from bench.ha_baseline import HomeAssistantBaseline

    load_before = os.getloadavg()
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="hearth-latency-"))
    stt_port, tts_port = peers.free_port(), peers.free_port()
    whisper = peers.PeerProcess("wyoming-faster-whisper", peers.whisper_command(stt_port), stt_port,
                                logs / "wyoming-faster-whisper.log")
    (logs / "piper-downloads").mkdir()
    piper = peers.PeerProcess("wyoming-piper", peers.piper_command(tts_port, logs / "piper-downloads"), tts_port,
                              logs / "wyoming-piper.log")
    base = {"mqtt": {"enabled": False}, "wyoming": {"enabled": False}, "data_dir": str(logs / "hub"),
            "conversation": conversation}
    results: list[CaseResult] = []
    ha_error = None
    ha: HomeAssistantBaseline | None = None
    pauses_text = ""
    async with peers.running(whisper, piper):
        print(f"peers ready: wyoming-faster-whisper in {whisper.ready_s:.1f} s, wyoming-piper in {piper.ready_s:.1f} s",
              flush=True)
        models_task = asyncio.create_task(asyncio.to_thread(Models.load, HubSettings.model_validate(base)))
        if use_ha:
            ha = HomeAssistantBaseline(stt_port, tts_port, logs)
            try:
                await ha.start()
                print(f"Home Assistant {ha.version} drives our satellite (VAD {ha.silence_seconds} s)", flush=True)
            except Exception as err:  # reported in the results: baseline A is then missing, the rest still runs
                ha_error = f"{type(err).__name__}: {err}"
                print(f"baseline A unavailable: {ha_error}", flush=True)
                with contextlib.suppress(Exception):
                    await ha.close()
                ha = None
        models = await models_task
        values = dict(base)
        if ha is not None:
            values["home_assistant"] = {"url": ha.peer.url, "token_file": str(ha.peer.token_file),
                                        "version": ha.peer.version}
        settings = HubSettings.model_validate(values)
        speech = SpeechMaker(models.tts)
        sat = SimSatellite("kitchen", "Kitchen")
        await sat.start()
        hub = Hub(settings.model_copy(update={"satellites": [sat.uri]}), models)
        calls = Calls()
        hub.services.stt = SttProbe(models.stt, calls)  # type: ignore[assignment]
        hub.services.llm = LlmProbe(models.llm, calls)  # type: ignore[assignment]
        hub.services.tts = TtsProbe(models.tts, calls)  # type: ignore[assignment]
        sink = SatelliteSink()
        await sink.start()
        await hub.start()
        await asyncio.wait_for(sat.running.wait(), 10)
        try:
            wake = speech("Hey Jarvis.")
            for case in CASES:
                if case.device is not None:
                    if ha is None:
                        continue
                    await _hub_sees(hub, case.question.rstrip("."))
                pcm = speech(case.question)
                last = last_voiced_sample(pcm)
                result = CaseResult(case, ha_window_ms(pcm, last))
                for index in range(repeats + 1):  # the first is a warm-up; the sides interleave
                    if case.device is not None and ha is not None:
                        await _device_off(ha, case.device)
                    turn = await ours(hub, sat, calls, pcm, last, case.style)
                    if index:
                        result.ours.append(turn.stages)
                        result.handler = turn.handler
                    if not case.llm and ha is not None:
                        if case.device is not None:
                            await _device_off(ha, case.device)
                        side = await ha.turn(wake, pcm, last)
                        if index:
                            result.a.append({"total": side["total"]})
                            result.heard_a.append(f"{side['run']['heard']!r} -> {side['run']['answer']!r}")
                    if case.llm:
                        b = await ha_streaming(stt_port, tts_port, sink, models, pcm, result.window_ms, turn)
                        if index:
                            result.b.append(b)
                    local = await in_process(models, pcm, result.window_ms, turn)
                    if index:
                        result.local.append(local)
                results.append(result)
                line = f"{case.name}: ours {med(result.ours, 'total'):.0f} ms (handler {result.handler})"
                for label, rows in (("A", result.a), ("B", result.b), ("in-process", result.local)):
                    if rows:
                        line += f", {label} {med(rows, 'total'):.0f} ms"
                print(line, flush=True)
            stats = dataclasses.asdict(hub.services.speculation)
        finally:
            await hub.close()
            await sat.close()
            await sink.close()
            if ha is not None:
                await ha.close()
        # The pause set on the same models (whisper's time per guess is part of what it measures).
        conv = settings.conversation
        items = await measure_pauses(models.stt, speech, conv.speculative_stt_ms)
        pauses_text = pause_report(items, tuple(sorted({*DEFAULT_WINDOWS, conv.command_silence_ms})),
                                   conv.command_silence_ms, conv.speculative_stt_ms, conv.silence_ms)
    load_after = os.getloadavg()
    return report(results, repeats, settings, ha_error, ha, stats, pauses_text, load_before, load_after,
                  time.monotonic() - started)


def _cell(rows: list[dict[str, float]], key: str = "total") -> str:
    if not rows:
        return "-"
    return f"{med(rows, key):.0f} ({pct([r[key] for r in rows], 0.95):.0f})"


def report(results: list[CaseResult], repeats: int, settings: HubSettings, ha_error: str | None, ha: Any,
           stats: dict[str, Any], pauses_text: str, load_before: tuple[float, float, float],
           load_after: tuple[float, float, float], wall_s: float) -> str:
    conv = settings.conversation
    lines = [
        "How to run: `.venv/bin/python -m bench.latency --repeats 3` (peers installed by scripts/install-peers.sh on "
        f"first use; this run took {wall_s / 60:.0f} minutes of wall time, most of it starting Home Assistant).",
        "",
        "Last voiced sound of the question -> first answer audio at the satellite, ms, median (p95). **Zero** = the "
        "question's last voiced sample (end of the last 10 ms frame within 40 dB of the loudest and above -50 dBFS, "
        "on the clean clip), on the clock of the satellite's paced microphone, for every side. **Ours** = the hub "
        f"at its defaults (`silence_ms` {conv.silence_ms}, `command_silence_ms` {conv.command_silence_ms}, "
        f"`speculative_stt_ms` {conv.speculative_stt_ms}, speculative answer "
        f"{'on' if conv.speculative_answer else 'off'}). **A** = Home Assistant "
        f"{getattr(ha, 'version', '2025.4.4') or '2025.4.4'} (real) driving our satellite over Wyoming with the real "
        "`wyoming-faster-whisper==3.8.1` + `wyoming-piper==2.5.2` (same whisper tiny.en int8 files, beam 1, 2 threads; "
        "same piper voice), its own conversation agent and default VAD (the satellite's VAD sensitivity "
        f"select: {getattr(ha, 'silence_seconds', 0.7) or 0.7} s), timed when the first answer chunk reached the "
        "satellite process. **B** = HA's current streaming turn reproduced against the same servers: 0.7 s window "
        "(`homeassistant/components/assist_pipeline/vad.py`: `VadSensitivity.DEFAULT` -> 0.7, "
        "`VoiceCommandSegmenter.silence_seconds = 0.7`), audio streamed to STT during speech, LLM deltas to "
        "wyoming-piper's text stream once the reply is over 60 characters (`assist_pipeline/pipeline.py`: "
        "`STREAM_RESPONSE_CHARS = 60`), piper's first chunk to a satellite socket at once; same llama model and "
        "request as ours. **In-process** = B's sequence with the models in this process, nothing streamed.",
        "",
        "| case | ours | A: real HA | ours / A | B: HA streaming | ours / B | in-process | ours / in-process "
        "| target | met? |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for r in results:
        mine = med(r.ours, "total")
        ratio_a = f"{mine / med(r.a, 'total'):.2f}" if r.a else "-"
        ratio_b = f"{mine / med(r.b, 'total'):.2f}" if r.b else "-"
        if r.case.llm:
            target, ratio = f"<= {LLM_TARGET}x B", (mine / med(r.b, "total") if r.b else None)
            limit = LLM_TARGET
        else:
            target, ratio = f"<= {FAST_TARGET}x A", (mine / med(r.a, "total") if r.a else None)
            limit = FAST_TARGET
        met = "-" if ratio is None else ("yes" if ratio <= limit else f"**no** (+{ratio - limit:.2f})")
        verdicts.append((r.case.name, ratio, limit))
        lines.append(f"| {r.case.name} | {_cell(r.ours)} | {_cell(r.a)} | {ratio_a} | {_cell(r.b)} | {ratio_b} | "
                     f"{_cell(r.local)} | {mine / med(r.local, 'total'):.2f} | {target} | {met} |")
    if ha_error:
        lines += ["", f"Baseline A could not run: `{ha_error}`; the device case needs it and was skipped."]
    lines += [
        "",
        "**Ours, per stage** (medians, ms after the zero; compute from timing the model calls themselves):",
        "",
        "| case | end of speech decided | early commits | transcript | first token | first sentence | at satellite "
        "| STT left after decision | LLM after transcript (speculative hits) | device action | TTS 1st chunk "
        "| overhead median (p95) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        n = len(r.ours)
        over = [m["overhead"] for m in r.ours]
        early = int(sum(m["early"] for m in r.ours))
        hits = int(sum(m["hit"] for m in r.ours))
        lines.append(
            f"| {r.case.name} | {med(r.ours, 'endpointing'):.0f} | {early}/{n} | {med(r.ours, 'transcript'):.0f} | "
            f"{med(r.ours, 'first_token'):.0f} | {med(r.ours, 'first_sentence'):.0f} | {med(r.ours, 'total'):.0f} | "
            f"{med(r.ours, 'stt_after_endpointing'):.0f} | {med(r.ours, 'llm_first_sentence'):.0f} "
            f"({hits}/{n if r.case.llm else 0}) | {med(r.ours, 'device'):.0f} | {med(r.ours, 'tts_first_chunk'):.0f} | "
            f"{statistics.median(over):.1f} ({pct(over, 0.95):.1f}) |")
    lines += [
        "",
        "**B, per stage** (medians, ms): end-of-speech window from the zero (0.7 s of VAD silence, in audio time), "
        "then from the window's close: transcript, LLM done, piper's first chunk, and that chunk at the satellite.",
        "",
        "| case | window | STT | LLM done | first chunk | TTS streamed | total |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.b:
            lines.append(f"| {r.case.name} | {r.window_ms:.0f} | {med(r.b, 'stt'):.0f} | {med(r.b, 'llm'):.0f} | "
                         f"{med(r.b, 'first_chunk'):.0f} | {int(sum(b['streamed'] for b in r.b))}/{len(r.b)} | "
                         f"{med(r.b, 'total'):.0f} |")
    heard = [f"{r.case.name}: {r.heard_a[0]}" for r in results if r.heard_a]
    if heard:
        lines += ["", "What Home Assistant heard and answered (A, first run): " + "; ".join(heard) + "."]
    worst = max((statistics.median([m["overhead"] for m in r.ours]) for r in results), default=0.0)
    lines += [
        "",
        f"**Orchestration overhead** = ours minus the end-of-speech wait (zero -> decision), minus STT still running "
        "after the decision, minus the LLM's own time after the transcript up to the output that closed the first "
        "sentence (a speculative answer's earlier work is off the critical path), minus the device action's own time "
        "(HA's service call until its new state was seen), minus piper's time to its first chunk. "
        f"Target < {OVERHEAD_TARGET_MS:.0f} ms: worst case median {worst:.1f} ms "
        f"({'met' if worst < OVERHEAD_TARGET_MS else 'NOT met'}).",
        "",
        "**Speculation counters** over the whole run (hub metrics `hearth_hub_speculation_*`): "
        + ", ".join(f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items()) + ".",
        "",
        pauses_text,
        "",
        f"{repeats} runs per case after one warm-up (with so few runs, p95 is the slowest run), the sides interleaved "
        "in each repeat. Machine load (1/5/15 min) "
        f"{' / '.join(f'{x:.2f}' for x in load_before)} before, {' / '.join(f'{x:.2f}' for x in load_after)} after, "
        "on 2 cores shared with other work: compare the ratios, measured in the same run.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--speculative-stt-ms", type=int, default=None,
                        help="the hub's [conversation] speculative_stt_ms (default: the hub's default)")
    parser.add_argument("--command-silence-ms", type=int, default=None,
                        help="the hub's [conversation] command_silence_ms (default: the hub's default)")
    parser.add_argument("--first-clause-words", type=int, default=None,
                        help="the hub's [conversation] first_clause_words (default: the hub's default)")
    parser.add_argument("--no-ha", action="store_true", help="skip baseline A (the real Home Assistant)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    chosen = {"speculative_stt_ms": args.speculative_stt_ms, "command_silence_ms": args.command_silence_ms,
              "first_clause_words": args.first_clause_words}
    conversation = {key: value for key, value in chosen.items() if value is not None}
    try:
        body = asyncio.run(run(args.repeats, conversation, not args.no_ha))
    except peers.PeerMissingError as err:
        raise SystemExit(f"bench.latency: {err}") from None
    if args.no_write:
        print(body)
        return
    extra = "".join(f" --{key.replace('_', '-')} {value}" for key, value in conversation.items())
    write_result("latency", body, command=f"python -m bench.latency --repeats {args.repeats}{extra}")


if __name__ == "__main__":
    main()
