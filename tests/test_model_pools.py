"""Model servers elsewhere, on real parts: two real wyoming-faster-whisper servers (whisper tiny.en as our
package ships it) behind a hub whose local speech recognition is off, driven by satellites over real
sockets and a real Mosquitto. Turns spread over both servers; a server killed in the middle of an
utterance costs the turn nothing (the utterance is sent again to the other one); the killed server
is taken out and comes back by itself once it answers ``describe`` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peers import free_port, whisper_command
from common.processes import stop_process
from hub.app import Hub, Models
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.pipeline.stt import SpeechToText
from hub.remote.pool import ServerPool
from hub.remote.wyoming_stt import RemoteSpeechToText, SttUnreachable, describe, stt_pool
from hub.settings import HubSettings
from protocol.payloads import ModelStatus
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(400)

REPO = Path(__file__).resolve().parent.parent


class WhisperServer:
    """A real wyoming-faster-whisper process on a fixed port (so a restarted one is the same server)."""

    def __init__(self, workdir: Path, index: int) -> None:
        self.port = free_port()
        self.uri = f"tcp://127.0.0.1:{self.port}"
        self.log = workdir / f"whisper-{index}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(whisper_command(self.port, threads=1), stdout=log, stderr=log,
                                            cwd=str(REPO), start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()[-2000:]
            with contextlib.suppress(OSError, ConnectionError, TimeoutError):
                asyncio.run(asyncio.wait_for(describe(("127.0.0.1", self.port)), 5))
                return
            time.sleep(0.3)
        raise TimeoutError(f"wyoming-faster-whisper not ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture(scope="module")
def whisper_servers(tmp_path_factory) -> Iterator[list[WhisperServer]]:
    workdir = tmp_path_factory.mktemp("whisper-servers")
    servers = [WhisperServer(workdir, i) for i in range(2)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def remote_models(hub_models: Models, uris: list[str]) -> tuple[Models, RemoteSpeechToText, ServerPool]:
    """The session's LLM and voice, speech recognition on ``uris`` only (no local whisper behind it)."""
    pool = stt_pool(uris, check_every_s=1.0, backoff_max_s=2.0)
    stt = RemoteSpeechToText(pool, local=None, request_timeout_s=20)
    status = [ModelStatus(kind="stt", name="2 server(s)", status="loaded")]
    return Models(stt, hub_models.llm, hub_models.tts, status, [pool]), stt, pool


@contextlib.asynccontextmanager
async def hub_with(broker, models: Models, satellites: list[SimSatellite], tmp_path: Path):
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [s.uri for s in satellites],
        "mqtt": broker.settings("hub").model_dump(), "wyoming": {"port": 0},
    })
    hub = Hub(settings, models)
    await hub.start()
    try:
        for satellite in satellites:
            await asyncio.wait_for(satellite.running.wait(), 10)
        yield hub
    finally:
        await hub.close()


async def test_a_hub_with_every_model_on_servers_loads_no_local_model(whisper_servers):
    settings = HubSettings.model_validate({
        "stt": {"servers": [whisper_servers[0].uri, whisper_servers[1].uri]},
        "tts": {"servers": ["tcp://127.0.0.1:9"]}, "llm": {"servers": ["http://127.0.0.1:9/v1"]},
    })
    started = time.perf_counter()
    models = await asyncio.to_thread(Models.load, settings)
    took = time.perf_counter() - started
    assert not isinstance(models.stt, SpeechToText)
    assert [p.kind for p in models.pools] == ["stt", "llm", "tts"]
    assert all(getattr(m, "local", None) is None for m in (models.stt, models.llm, models.tts))
    assert took < 2.0  # nothing loaded: whisper, gemma and piper together take several seconds here
    assert [s.name for s in models.status] == ["2 server(s)", "1 server(s)", "1 server(s)"]
    # The pool's first health check names the model the servers run, and finds the missing TTS server out.
    stt_servers, _llm, tts_servers = models.pools
    await asyncio.gather(*(stt_servers.check(s) for s in stt_servers.servers),
                         *(tts_servers.check(s) for s in tts_servers.servers))
    assert stt_servers.healthy_count == 2 and tts_servers.healthy_count == 0
    assert models.stt.name == "model"  # wyoming-faster-whisper names the folder it was given


async def test_turns_spread_over_both_servers_with_local_stt_off(broker, hub_models, speech, whisper_servers, tmp_path):
    models, stt, pool = remote_models(hub_models, [s.uri for s in whisper_servers])
    rooms = [SimSatellite("kitchen"), SimSatellite("bedroom")]
    for room in rooms:
        await room.start()
    question = speech("What time is it?")
    async with hub_with(broker, models, rooms, tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        for round_ in range(1, 3):  # both rooms at once, twice
            # 0.8 s apart: wakes within the arbitration window would count as one voice heard in two rooms.
            await asyncio.gather(rooms[0].say(question), _later(0.8, rooms[1].say(question)))
            await asyncio.wait_for(_until(lambda: sum(1 for e in recorder.events if e.kind is EventKind.TURN_ENDED)
                                          >= 2 * round_), 60)  # noqa: B023 (awaited in the loop)
    for room in rooms:
        await room.close()
    ended = [e for e in recorder.events if e.kind is EventKind.TURN_ENDED]
    assert [e.data.handler for e in ended] == ["time"] * 4
    assert all("time" in t.lower() for room in rooms for t in room.transcripts)
    served = [s.served for s in pool.servers]
    assert all(n >= 1 for n in served), served  # both servers did work
    assert sum(served) >= 4
    assert stt.retried == 0 and stt.fell_back == 0


async def test_a_server_killed_mid_utterance_costs_the_turn_nothing(broker, hub_models, speech, whisper_servers,
                                                                    tmp_path):
    models, stt, pool = remote_models(hub_models, [s.uri for s in whisper_servers])
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    question = speech("What time is it?")
    async with hub_with(broker, models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        await asyncio.wait_for(_until(lambda: all(s.checked_at for s in pool.servers)), 10)
        saying = asyncio.create_task(kitchen.say(question))
        # The moment an utterance is on its way to a server, that server dies (SIGKILL: no goodbye).
        busy = await asyncio.wait_for(_until(lambda: next((s for s in pool.servers if s.busy), None)), 30)
        victim = whisper_servers[pool.servers.index(busy)]
        victim.kill()
        killed_t = time.monotonic()
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        await saying
        assert ended.data.handler == "time" and ended.data.outcome == "done"
        assert "time" in kitchen.transcripts[0].lower()
        assert not busy.healthy and stt.retried >= 1
        assert next(s for s in pool.servers if s is not busy).served >= 1
        # Out while dead: the next turn goes straight to the other server (no wait on the dead one).
        await kitchen.say(speech("What time is it?"))
        second = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id != ended.turn_id, 60)
        assert second.data.handler == "time"
        # hub/state says which server is out (checked with the metrics, every 10 s) ...
        await asyncio.wait_for(_until(lambda: "out" in hub.problems.get("stt-servers", "")), 15)
        assert victim.uri in hub.problems["stt-servers"] and "1/2 up" in hub.problems["stt-servers"]
        # Restarted, it is back in the pool by itself within its backoff (at most 2 s here) once it answers.
        victim.start()
        await asyncio.to_thread(victim.wait_ready)
        await asyncio.wait_for(_until(lambda: busy.healthy), 5)
        back_after = time.monotonic() - killed_t
        await asyncio.wait_for(_until(lambda: "stt-servers" not in hub.problems), 15)  # ... and that it is back
    await kitchen.close()
    assert back_after < 120


async def test_no_server_and_no_fallback_is_a_clear_error_and_a_local_fallback_answers(hub_models, speech):
    pool = stt_pool(["tcp://127.0.0.1:9"], backoff_max_s=2.0)
    with pytest.raises(SttUnreachable, match="no speech recognition server reachable"):
        await RemoteSpeechToText(pool).transcribe(speech("What time is it?"), "kitchen")
    assert pool.healthy_count == 0
    fallback = RemoteSpeechToText(stt_pool(["tcp://127.0.0.1:9"]), local=hub_models.stt)
    result = await fallback.transcribe(speech("What time is it?"), "kitchen")
    assert "time" in result.text.lower() and fallback.fell_back == 1


async def _until(predicate):
    while not (value := predicate()):
        await asyncio.sleep(0.005)
    return value


async def _later(delay_s: float, coro):
    await asyncio.sleep(delay_s)
    return await coro


# -- the language model over several OpenAI-compatible endpoints, and speech on a Wyoming TTS pool ------------------


@pytest.fixture(scope="module")
def llama_endpoint():
    from common.models import gemma_gguf_path
    from testbed.llm_server import llama_server

    with llama_server(gemma_gguf_path(), threads=1) as running:
        yield running


def _ask(text: str):
    from datetime import datetime

    from hub.llm.base import LlmRequest
    from hub.pipeline.turn_services import DEFAULT_SYSTEM_PROMPT

    return LlmRequest(user_text=text, room="kitchen", now=datetime(2026, 11, 30, 13, 29),
                      system_prompt=DEFAULT_SYSTEM_PROMPT, style="brief")


async def test_an_answer_goes_past_a_dead_llm_endpoint_to_a_live_one(hub_models, llama_endpoint):
    from hub.llm.base import LlmUnreachable
    from hub.llm.openai_client import OpenAICompatible
    from hub.remote.llm_pool import LanguageModelPool

    dead_url = f"http://127.0.0.1:{free_port()}/v1"
    endpoints = [(url, OpenAICompatible(url, "gemma", retries=0)) for url in (dead_url, llama_endpoint.url)]
    pool: ServerPool = ServerPool("llm", endpoints, None, backoff_max_s=30.0)
    llm = LanguageModelPool(pool)
    first = "".join([piece async for piece in llm.stream(_ask("What is the capital of France?"))])
    assert first.strip() and llm.retried == 1
    dead, live = pool.servers
    assert not dead.healthy and live.served == 1
    started = time.perf_counter()
    second = "".join([piece async for piece in llm.stream(_ask("Name a colour."))])
    assert second.strip() and live.served == 2 and dead.failed_total == 1  # the dead one was not asked again
    assert time.perf_counter() - started < 60
    # Every endpoint out: the local model answers when there is one, else a stable, spoken error.
    nowhere = [(dead_url, OpenAICompatible(dead_url, "gemma", retries=0))]
    with pytest.raises(LlmUnreachable):
        _ = [p async for p in LanguageModelPool(ServerPool("llm", nowhere, None)).stream(_ask("Hello?"))]
    fallback = LanguageModelPool(ServerPool("llm", nowhere, None), local=hub_models.llm)
    assert "".join([p async for p in fallback.stream(_ask("Name a fruit."))]).strip() and fallback.fell_back == 1


@pytest.mark.peers  # a real wyoming-piper peer
async def test_speech_goes_past_a_dead_tts_server_to_a_real_wyoming_piper(tmp_path):
    from bench.peers import PeerProcess, piper_command, running
    from hub.remote.wyoming_tts import RemoteTextToSpeech, TtsUnreachable, tts_pool
    from protocol.audio import TTS_FORMAT

    port = free_port()
    download = tmp_path / "piper-downloads"
    download.mkdir()
    async with running(PeerProcess("piper", piper_command(port, download), port, tmp_path / "piper.log")):
        pool = tts_pool([f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{port}"])
        tts = RemoteTextToSpeech(pool)
        audio = b"".join([chunk async for chunk in tts.synthesize("The kitchen light is on.")])
        assert tts.audio_format == TTS_FORMAT
        assert len(audio) > TTS_FORMAT.bytes_per_second // 2  # more than half a second of speech
        assert [s.healthy for s in pool.servers] == [False, True] and tts.retried == 1
        await pool.check(pool.servers[1])
        assert tts.name == "piper"  # it lists 174 voices as installed: the program's name is the honest one
        assert not list(download.iterdir())  # offline: nothing was downloaded
    with pytest.raises(TtsUnreachable):
        _ = [c async for c in RemoteTextToSpeech(tts_pool([f"tcp://127.0.0.1:{port}"])).synthesize("Hello.")]
