"""Any GGUF the user brings: one whose metadata has a chat template is driven through it.

The model is the shipped gemma file copied with the ``gguf`` library, with ``tokenizer.chat_template``
added (tests/chat_gguf.py): a real GGUF that takes the instruct path, loaded through ``[models] llm_path``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from common.models import ModelLoadError, gemma_gguf_path
from hub.app import Models
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.llm.base import LlmRequest
from hub.llm.factory import load_language_model
from hub.llm.llama_local import LlamaLocal
from hub.pipeline.turn_services import DEFAULT_SYSTEM_PROMPT
from hub.settings import ModelSettings
from testbed.hub_rig import running_hub
from testbed.simsat import SimSatellite
from tests.chat_gguf import with_chat_template

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory) -> LlamaLocal:
    path = with_chat_template(gemma_gguf_path(), tmp_path_factory.mktemp("gguf") / "gemma-chat.gguf")
    model = load_language_model(ModelSettings(llm_path=path))
    assert isinstance(model, LlamaLocal)
    return model


def test_a_gguf_with_a_chat_template_takes_the_chat_path(chat_model):
    assert chat_model.chat
    assert chat_model.metadata["tokenizer.chat_template"].startswith("{{ bos_token }}")
    assert chat_model._llm.chat_format == "chat_template.default"  # llama.cpp renders the file's own template
    assert chat_model.name == "gemma-chat"


async def test_it_answers_through_create_chat_completion_with_the_grounding_as_messages(chat_model):
    request = LlmRequest(user_text="What room am I in?", room="study", now=datetime(2026, 11, 30, 13, 29),
                         system_prompt=DEFAULT_SYSTEM_PROMPT, facts=("the user's name is Sam",), style="brief")
    prompt = chat_model.prompt_text(request)
    assert prompt.startswith("system: ") and "The user is in the study." in prompt and "Sam" in prompt
    assert prompt.endswith("user: What room am I in?")
    pieces = [piece async for piece in chat_model.stream(request)]
    assert "".join(pieces).strip()
    assert len(pieces) <= request.token_budget


async def test_a_turn_speaks_the_chat_models_answer(broker, hub_models, chat_model, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    models = Models(hub_models.stt, chat_model, hub_models.tts, hub_models.status)
    async with running_hub(broker, models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen"]
        await session.start(session.new_turn(text="Tell me something about owls."))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 120)
    await kitchen.close()
    assert ended.data.handler == "llm" and ended.data.outcome == "done"
    started = next(e for e in recorder.events if e.kind is EventKind.LLM_STARTED)
    assert started.data.prompt.startswith("system: ")  # the recorder keeps the chat messages
    assert ended.data.response.strip() and kitchen.answers and len(kitchen.answers[0].audio) > 0


def test_a_missing_or_wrong_llm_path_names_the_setting(tmp_path: Path):
    with pytest.raises(ModelLoadError, match=r"llm_path.*does not exist"):
        load_language_model(ModelSettings(llm_path=tmp_path / "nowhere.gguf"))
    not_gguf = tmp_path / "model.bin"
    not_gguf.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(ModelLoadError, match=r"llm_path.*not a GGUF file"):
        load_language_model(ModelSettings(llm_path=not_gguf))
