"""Baseline A: the real, newest Home Assistant installed here drives one of our satellites over Wyoming.

Home Assistant 2025.4.4 (``.venv-peers/ha-current``, started and onboarded by testbed/ha_peer.py with
its test home) gets three Wyoming entries through its own config flows: the real
``wyoming-faster-whisper`` (STT) and ``wyoming-piper`` (TTS) servers bench.latency already runs, and
our satellite (``python -m satellite``'s app, in this process, file audio backend, no MQTT). An
Assist pipeline with those two and HA's own conversation agent is made the preferred one; HA's VAD
settings stay at their defaults (the satellite's VAD sensitivity select: "default", 0.7 s).

One turn: "Hey Jarvis." is fed to the satellite's microphone, then the question; the satellite's
wake word fires, HA runs the pipeline, and the time the first answer audio chunk reaches the
satellite's Wyoming handler is taken. Zero is when the satellite's paced microphone delivered the
question's last voiced sample: the first block of the question is read at a known instant and
each later block 80 ms after it, so sample ``p`` was "spoken" at that instant plus ``(p + 1) / 16000`` s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.audio import MIC_FORMAT
from satellite.app import SatelliteApp
from satellite.audio.backends import FileBackend
from satellite.settings import SatelliteSettings

HA_PEER = "current"
WAKE_GAP_S = 0.5


@dataclass
class _Probe:
    armed: bool = False
    question_t: float | None = None
    """When the satellite's microphone read the question's first block."""
    first_answer_t: float | None = None
    got_answer: asyncio.Event = field(default_factory=asyncio.Event)
    question_offset: int = 0
    """Byte offset of the question in what was fed."""


class HomeAssistantBaseline:
    """Start with :meth:`start` (a few minutes: HA, its onboarding, three config flows), then :meth:`turn`."""

    def __init__(self, stt_port: int, tts_port: int, workdir: Path) -> None:
        self._stt_port, self._tts_port = stt_port, tts_port
        self._workdir = workdir
        self._stack = contextlib.ExitStack()
        self.peer: Any = None
        self.app: SatelliteApp | None = None
        self._entries: list[str] = []
        self._probe = _Probe()
        self.version = ""
        self.pipeline: dict[str, Any] = {}
        self.silence_seconds = 0.0
        self.last_events: list[str] = []

    async def start(self) -> None:
        from testbed.ha_peer import start_home_assistant

        self.peer = await asyncio.to_thread(self._stack.enter_context, start_home_assistant(HA_PEER))
        self.version = self.peer.version
        peer = self.peer
        whisper = await asyncio.to_thread(peer.add_integration, "wyoming", {"host": "127.0.0.1", "port": self._stt_port})
        piper = await asyncio.to_thread(peer.add_integration, "wyoming", {"host": "127.0.0.1", "port": self._tts_port})
        self._entries += [whisper, piper]
        stt = await peer.entry_entity(whisper, "stt")
        tts = await peer.entry_entity(piper, "tts")
        agents, voices = await peer.ws({"type": "conversation/agent/list"},
                                       {"type": "tts/engine/voices", "engine_id": tts, "language": "en_US"})
        agent = next(a["id"] for a in agents["agents"] if a["id"] in ("conversation.home_assistant", "homeassistant"))
        (self.pipeline,) = await peer.ws({
            "type": "assist_pipeline/pipeline/create", "name": "Bench", "language": "en",
            "conversation_engine": agent, "conversation_language": "en",
            "stt_engine": stt, "stt_language": "en", "tts_engine": tts, "tts_language": "en_US",
            "tts_voice": _our_voice(voices["voices"]), "wake_word_entity": None, "wake_word_id": None})
        await peer.ws({"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": self.pipeline["id"]})
        settings = SatelliteSettings.model_validate({
            # No pre-roll: ours re-sends the wake phrase for our hub's clean-up, which HA's agent does not have
            # ("Hey Jarvis, what time is it?" -> "Sorry, I couldn't understand that"); a stock satellite sends none.
            "id": "kitchen", "name": "Kitchen", "area": "Kitchen", "mqtt": {"enabled": False},
            "wake": {"stream_preroll_ms": 0},
            "wyoming": {"host": "127.0.0.1", "port": 0},
            "audio": {"backend": "file", "realtime": True, "output_file": str(self._workdir / "ha-played.raw")}})
        self.app = await asyncio.to_thread(SatelliteApp, settings)
        await self.app.start()
        self._hook(self.app)
        self._entries.append(await asyncio.to_thread(peer.add_integration, "wyoming",
                                                     {"host": "127.0.0.1", "port": self.app.server.port}))
        await asyncio.wait_for(self.app.core.hub_ready.wait(), 60)  # HA sent run-satellite
        self.silence_seconds = await self._vad_seconds()

    async def _vad_seconds(self) -> float:
        """HA's end-of-speech silence for this satellite, from its VAD sensitivity select (default: 0.7 s)."""
        (entities,) = await self.peer.ws({"type": "config/entity_registry/list"})
        select = next((e["entity_id"] for e in entities if e.get("config_entry_id") == self._entries[-1]
                       and e["entity_id"].startswith("select.") and "sensitivity" in e["entity_id"]), None)
        state = await asyncio.to_thread(self.peer.state, select) if select else None
        option = (state or {}).get("state", "default")
        return {"relaxed": 1.25, "aggressive": 0.25}.get(option, 0.7)

    def _hook(self, app: SatelliteApp) -> None:
        probe = self._probe
        backend = app.backend
        assert isinstance(backend, FileBackend), backend
        next_mic = backend._next_mic  # noqa: SLF001 - the bench times our own satellite's microphone reads

        async def timed_next_mic() -> bytes | None:
            offset = backend._offset  # noqa: SLF001
            now = time.monotonic()
            block = await next_mic()
            if (probe.armed and probe.question_t is None and block is not None
                    and offset <= probe.question_offset < offset + len(block)):
                # The block read now is the one captured from the previous pacing tick (this read comes right after it).
                probe.question_t = now + (probe.question_offset - offset) / MIC_FORMAT.bytes_per_second
            return block

        backend._next_mic = timed_next_mic  # type: ignore[method-assign]  # noqa: SLF001
        handle = app.core.handle_hub_event

        async def timed_handle(event: Any) -> None:
            if probe.armed and probe.first_answer_t is None and event.type == "audio-chunk":
                probe.first_answer_t = time.monotonic()
                probe.got_answer.set()
            await handle(event)

        app.core.handle_hub_event = timed_handle  # type: ignore[method-assign]

    async def turn(self, wake: bytes, question: bytes, last_voiced: int, timeout: float = 90.0) -> dict[str, Any]:
        """One spoken turn; ms from the question's last voiced sample to the first answer chunk at the satellite."""
        assert self.app is not None and self.app.backend is not None
        app = self.app
        await _wait(lambda: app.core.phase.value == "idle" and not app.player.playing, 30)
        probe = self._probe
        gap = bytes(int(MIC_FORMAT.bytes_per_second * WAKE_GAP_S))
        backend = app.backend
        assert isinstance(backend, FileBackend), backend
        pending = max(0, len(backend._pcm) - backend._offset)  # noqa: SLF001 - audio not yet read stays first
        probe.question_offset = pending + len(wake) + len(gap)
        probe.question_t = probe.first_answer_t = None
        probe.got_answer.clear()
        probe.armed = True
        trailing = bytes(int(MIC_FORMAT.bytes_per_second * 3.0))
        backend.feed(wake + gap + question + trailing)
        try:
            await asyncio.wait_for(probe.got_answer.wait(), timeout)
        except TimeoutError:
            run = await self.last_run()
            raise RuntimeError(f"no answer audio reached the satellite in {timeout:.0f} s (phase "
                               f"{app.core.phase.value}; HA's last run: {run})\n{self.peer.log_tail(3000)}") from None
        finally:
            probe.armed = False
        assert probe.question_t is not None and probe.first_answer_t is not None
        zero = probe.question_t + (last_voiced + 1) / MIC_FORMAT.rate
        run = await self.last_run()
        return {"total": 1000 * (probe.first_answer_t - zero), "run": run}

    async def last_run(self) -> dict[str, Any]:
        (runs,) = await self.peer.ws({"type": "assist_pipeline/pipeline_debug/list",
                                      "pipeline_id": self.pipeline["id"]})
        (run,) = await self.peer.ws({"type": "assist_pipeline/pipeline_debug/get", "pipeline_id": self.pipeline["id"],
                                     "pipeline_run_id": runs["pipeline_runs"][-1]["pipeline_run_id"]})
        events = {e["type"]: e for e in run["events"]}
        self.last_events = [e["type"] for e in run["events"]]
        said = ((events.get("stt-end") or {}).get("data") or {}).get("stt_output", {}).get("text", "")
        speech = (((events.get("intent-end") or {}).get("data") or {}).get("intent_output", {})
                  .get("response", {}).get("speech", {}).get("plain", {}).get("speech", ""))
        return {"heard": said, "answer": speech, "error": (events.get("error") or {}).get("data"),
                "events": self.last_events}

    async def close(self) -> None:
        for entry in reversed(self._entries):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.peer.remove_integration, entry)
        if self.app is not None:
            await self.app.close()
        await asyncio.to_thread(self._stack.close)


def _our_voice(voices: list[dict[str, Any]]) -> str:
    """The voice our piper package ships (wyoming-piper also lists voices it would download: not offline)."""
    from common.models import piper_voice_path

    wanted = piper_voice_path().name.removesuffix(".onnx")
    return next(v["voice_id"] for v in voices if v["voice_id"] == wanted)


async def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the satellite did not return to idle")
        await asyncio.sleep(0.05)
