"""The hub against a real OpenAI-compatible server: llama-cpp-python's own server serving the shipped GGUF.

Streaming through a whole turn, barge-in closing the request (the server notices the client leave and stops
generating for it),
a server that is down (the person hears why, MQTT gets the error code, the next turn works once it is
back) and retries with backoff while the server is still starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from common.local_broker import free_port
from common.models import gemma_gguf_path
from common.processes import stop_process
from hub.app import Hub, Models
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.llm.base import LlmRequest, LlmUnreachable
from hub.llm.openai_client import OpenAICompatible
from hub.pipeline.turn_services import DEFAULT_SYSTEM_PROMPT
from protocol.payloads import InterruptReason, TurnReport
from protocol.wyoming_events import InterruptEvent
from testbed.hub_rig import running_hub, watching
from testbed.llm_server import DISCONNECTED, LlamaServer, llama_server, start_process, wait_ready
from testbed.simsat import SimSatellite

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with llama_server(gemma_gguf_path()) as running:
        yield running


def request(text: str, style: str = "normal") -> LlmRequest:
    return LlmRequest(user_text=text, room="kitchen", now=datetime(2026, 11, 30, 13, 29),
                      system_prompt=DEFAULT_SYSTEM_PROMPT, style=style)


@contextlib.asynccontextmanager
async def hub_on(broker, hub_models, llm, satellites: list[SimSatellite], tmp_path: Path) -> AsyncIterator[Hub]:
    models = Models(hub_models.stt, llm, hub_models.tts, hub_models.status)
    async with running_hub(broker, models, satellites, tmp_path) as hub:
        yield hub


async def test_the_client_streams_pieces_and_closing_it_makes_the_server_stop(server):
    client = OpenAICompatible(server.url, "gemma")
    asked = request("Tell me a long story about a lighthouse keeper.", "detailed")
    before = server.output().count(DISCONNECTED)
    stream = client.stream(asked)
    pieces = []
    async for piece in stream:
        pieces.append(piece)
        if len(pieces) == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert len(pieces) == 3 and all(isinstance(p, str) for p in pieces)
    await _within(30, lambda: server.output().count(DISCONNECTED) > before)
    assert server.output().count(DISCONNECTED) == before + 1  # the server saw the client go, mid-answer


async def test_a_turn_streams_its_answer_from_the_server(broker, hub_models, server, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    client = OpenAICompatible(server.url, "gemma")
    async with hub_on(broker, hub_models, client, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen"]
        await session.start(session.new_turn(text="Why do cats purr?"))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 120)
    await kitchen.close()
    assert ended.data.handler == "llm" and ended.data.outcome == "done", ended.data
    assert ended.data.response.strip()
    kinds = recorder.kinds("kitchen")
    assert kinds.index(EventKind.FIRST_TOKEN) < kinds.index(EventKind.SENTENCE) < kinds.index(EventKind.AUDIO_STARTED)
    assert kitchen.answers and len(kitchen.answers[0].audio) > 0
    assert '"POST /v1/chat/completions HTTP/1.1" 200' in server.output()


async def test_barge_in_closes_the_request_and_the_server_stops(broker, hub_models, server, tmp_path):
    kitchen = SimSatellite("kitchen", send_played=False)
    await kitchen.start()
    client = OpenAICompatible(server.url, "gemma")
    async with hub_on(broker, hub_models, client, [kitchen], tmp_path) as hub:
        hub.services.style_for = lambda satellite, room: "detailed"
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen"]
        before = server.output().count(DISCONNECTED)
        await session.start(session.new_turn(text="Tell me a long story about a dragon who lives in a castle."))
        await recorder.wait_for(lambda e: e.kind is EventKind.FIRST_TOKEN, 120)
        # The person says the wake word over the answer: the satellite tells the hub.
        await kitchen.send(InterruptEvent(reason=InterruptReason.WAKE_WORD, turn_id=kitchen.turn_ids[0]).event())
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 30)
        await _within(30, lambda: server.output().count(DISCONNECTED) > before)
    await kitchen.close()
    assert ended.data.outcome == "interrupted"
    prompt = next(e for e in recorder.events if e.kind is EventKind.LLM_STARTED)
    assert prompt.data.style == "detailed"
    assert server.output().count(DISCONNECTED) == before + 1  # the server saw the client go, mid-answer


async def test_a_server_that_is_down_is_heard_reported_and_the_next_turn_works(broker, hub_models, tmp_path):
    port = free_port()  # nothing listens there yet
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    client = OpenAICompatible(f"http://127.0.0.1:{port}/v1", "gemma", retries=2, backoff_s=0.05, connect_timeout_s=1)
    async with watching(broker, "voice/v1/conversation/kitchen/#") as seen, \
            hub_on(broker, hub_models, client, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen"]
        first = session.new_turn(text="Why is the sea salty?")
        await session.start(first)
        failed = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        await asyncio.wait_for(_until(lambda: any(isinstance(m, TurnReport) for m in seen)), 10)
        with llama_server(gemma_gguf_path(), port=port):
            second = session.new_turn(text="Why is the sea salty?")
            await session.start(second)
            ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id == second.turn_id,
                                            120)
    await kitchen.close()
    said = [e.data.text for e in recorder.events if e.kind is EventKind.SENTENCE and e.turn_id == first.turn_id]
    assert said == ["I can't reach the language model right now."]
    assert len(kitchen.answers[0].audio) > 0  # and it was spoken
    error = next(e for e in recorder.events if e.kind is EventKind.ERROR)
    assert error.data.code == "llm_unreachable"
    assert failed.data.outcome == "error" and failed.data.error_code == "llm_unreachable"
    report = next(m for m in seen if isinstance(m, TurnReport))
    assert report.outcome.value == "error" and report.error_code == "llm_unreachable"
    assert ended.data.outcome == "done" and ended.data.handler == "llm" and ended.data.response.strip()


async def test_requests_are_retried_with_backoff_until_the_server_is_up(caplog, tmp_path):
    port = free_port()
    log_path = tmp_path / "server.log"
    process = start_process(gemma_gguf_path(), port, log_path)
    try:
        client = OpenAICompatible(f"http://127.0.0.1:{port}/v1", "gemma", retries=8, backoff_s=0.25)
        with caplog.at_level(logging.INFO, logger="hub.llm.openai_client"):
            pieces = [p async for p in client.stream(request("Name a fruit.", "brief"))]
        assert "".join(pieces).strip()
        assert any("retry 1" in r.getMessage() for r in caplog.records)  # it was not up at the first attempt
        await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}/v1", process, log_path)
    finally:
        stop_process(process)


async def test_a_server_that_never_comes_gives_up_with_a_stable_error():
    client = OpenAICompatible(f"http://127.0.0.1:{free_port()}/v1", "gemma", retries=1, backoff_s=0.01)
    with pytest.raises(LlmUnreachable) as caught:
        async for _ in client.stream(request("Hello?")):
            pass
    assert caught.value.code == "llm_unreachable" and "2 attempt(s)" in str(caught.value)


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


async def _within(seconds: float, predicate) -> None:
    """Wait for ``predicate`` up to ``seconds``; the caller's assert says what was missing."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_until(predicate), seconds)
