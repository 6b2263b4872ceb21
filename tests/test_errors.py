"""Errors carry their stage's stable code: a TTS failure is reported as ``tts_failed``, not ``RuntimeError``.

The failing speech server is a real Wyoming server on a real socket that starts a sentence and hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import async_read_event, async_write_event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.tts import Synthesize

from common.errors import CodedError, error_code
from hub.adapters.wyoming_service import WyomingService
from hub.llm.base import LlmError
from hub.loaded_models import Models
from hub.pipeline.stt import SttBusyError, SttError
from hub.pipeline.tts import TtsError
from hub.remote.wyoming_tts import RemoteTextToSpeech, TtsUnreachable, tts_pool
from hub.settings import WyomingServiceSettings
from testbed.hub_rig import running_hub
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(180)

_ATTRIBUTION = Attribution(name="test", url="")


@contextlib.asynccontextmanager
async def speech_server_that_hangs_up() -> AsyncIterator[str]:
    """A Wyoming TTS server that sends the start of a sentence (one chunk) and then drops the connection."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (event := await async_read_event(reader)) is not None:
                if Describe.is_type(event.type):
                    voice = TtsVoice(name="flaky", attribution=_ATTRIBUTION, installed=True, description="flaky",
                                     version=None, languages=["en_US"])
                    await async_write_event(Info(tts=[TtsProgram(
                        name="flaky", attribution=_ATTRIBUTION, installed=True, description="flaky", version=None,
                        voices=[voice])]).event(), writer)
                elif Synthesize.is_type(event.type):
                    await async_write_event(AudioStart(rate=22050, width=2, channels=1).event(), writer)
                    await async_write_event(AudioChunk(rate=22050, width=2, channels=1,
                                                       audio=bytes(4410)).event(), writer)
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_speech_failure_mid_answer_reaches_the_satellite_as_tts_failed(broker, hub_models, speech, tmp_path):
    async with speech_server_that_hangs_up() as uri:
        tts = RemoteTextToSpeech(tts_pool([uri]), request_timeout_s=5.0)
        models = Models(hub_models.stt, hub_models.llm, tts, hub_models.status)
        kitchen = SimSatellite("kitchen")
        await kitchen.start()
        try:
            async with running_hub(broker, models, [kitchen], tmp_path):
                await kitchen.say(speech("What time is it?"))
                deadline = time.monotonic() + 60
                while not (errors := [Error.from_event(e) for e in kitchen.received if Error.is_type(e.type)]):
                    assert time.monotonic() < deadline, "the satellite was never told the turn failed"
                    await asyncio.sleep(0.05)
        finally:
            await kitchen.close()
    assert errors[0].code == "tts_failed"
    assert "stopped mid-sentence" in errors[0].text


async def test_the_hubs_wyoming_service_answers_a_speech_failure_with_its_code(hub_models):
    async with speech_server_that_hangs_up() as uri:
        tts = RemoteTextToSpeech(tts_pool([uri]), request_timeout_s=5.0)
        service = WyomingService(WyomingServiceSettings(port=0), Models(hub_models.stt, hub_models.llm, tts, []))
        await service.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            await async_write_event(Synthesize(text="Dinner is ready.").event(), writer)
            while (event := await asyncio.wait_for(async_read_event(reader), 10)) is not None:
                if Error.is_type(event.type):
                    break
            writer.close()
        finally:
            await service.close()
    assert event is not None and Error.from_event(event).code == "tts_failed"


async def test_no_speech_server_at_all_is_tts_unreachable() -> None:
    async with speech_server_that_hangs_up() as uri:
        pass  # the port is closed again: nothing listens there
    tts = RemoteTextToSpeech(tts_pool([uri]), request_timeout_s=2.0)
    with pytest.raises(TtsUnreachable) as caught:
        async for _chunk in tts.synthesize("Hello."):
            pass
    assert error_code(caught.value) == "tts_unreachable"
    assert isinstance(caught.value, TtsError)


def test_every_stage_error_has_its_own_code() -> None:
    assert [error_code(e) for e in (TtsError("x"), SttError("x"), SttBusyError("x"), LlmError("x"))] == \
        ["tts_failed", "stt_failed", "stt_busy", "llm_failed"]
    assert error_code(LlmError("HTTP 500", code="llm_http_error")) == "llm_http_error"
    assert all(isinstance(e, CodedError) for e in (TtsError(), SttError(), LlmError()))
    assert error_code(ValueError("x")) == "ValueError"  # no code: the class name, which says little
