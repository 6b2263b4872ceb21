"""What each kind of model is told: the grounding (date, time, room, remembered facts, device states, the last
turns, the offline rule) reaches the base model's few-shot prompt, the chat template's messages and the
OpenAI request alike; and a real turn fills it from the hub's memory and home."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hub.answers.home_context import HomeContext
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.home.model import Entity, EntityState, HomeSource
from hub.llm.base import LlmRequest, chat_messages
from hub.llm.llama_local import FEW_SHOT, completion_prompt
from hub.llm.openai_client import OpenAICompatible, chat_url
from hub.pipeline.turn_services import DEFAULT_SYSTEM_PROMPT
from testbed.hub_rig import running_hub
from testbed.simsat import SimSatellite

NOW = datetime(2026, 11, 30, 13, 29)
REQUEST = LlmRequest(
    user_text="Is the kitchen light on?", room="kitchen", now=NOW, system_prompt=DEFAULT_SYSTEM_PROMPT,
    history=(("I'm baking bread.", "Lovely, enjoy it."),), style="brief",
    facts=("the user's name is Sam", "kids' bedtime is 8 pm"),
    device_states=("Kitchen ceiling (light, Kitchen) is on at 50% brightness.",),
)
GROUNDING = ("Monday 30 November 2026, 1:29 PM", "The user is in the kitchen", "the user's name is Sam",
             "kids' bedtime is 8 pm", "Kitchen ceiling (light, Kitchen) is on at 50% brightness.")


def test_the_base_models_few_shot_prompt_carries_the_grounding_after_its_fixed_examples():
    prompt = completion_prompt(REQUEST)
    assert prompt.startswith(FEW_SHOT)  # the cached prefix never changes
    notes = prompt[len(FEW_SHOT):]
    for fact in GROUNDING:
        assert fact in notes
    assert notes.endswith("Q: I'm baking bread.\nA: Lovely, enjoy it.\nQ: Is the kitchen light on?\nA:")


def test_chat_models_get_the_grounding_the_style_and_the_offline_rule_in_the_system_message():
    messages = chat_messages(REQUEST)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0]["content"]
    for fact in GROUNDING:
        assert fact in system
    assert "one short sentence" in system  # the brief style
    assert "can't check that offline" in system and "no markdown" in system
    assert messages[-1]["content"] == "Is the kitchen light on?"


def test_the_openai_request_is_the_chat_prompt_and_the_default_url_is_not_doubled():
    client = OpenAICompatible("http://127.0.0.1:8080/v1", "local")
    assert client.url == "http://127.0.0.1:8080/v1/chat/completions"
    assert chat_url("http://ollama.local:11434/v1/") == "http://ollama.local:11434/v1/chat/completions"
    assert chat_url("http://h:8000/v1/chat/completions") == "http://h:8000/v1/chat/completions"
    sent = json.loads(client.prompt_text(REQUEST))
    assert sent == chat_messages(REQUEST)
    body = client._body(REQUEST)
    assert body["stream"] is True and body["max_tokens"] == REQUEST.token_budget == 40
    with pytest.raises(ValueError, match="http"):
        OpenAICompatible("ftp://example", "local")


@pytest.mark.models
async def test_a_real_turn_grounds_the_model_in_the_clock_room_memory_and_home(broker, hub_models, tmp_path):
    kitchen = SimSatellite("kitchen-sat", area="kitchen")
    await kitchen.start()
    entities = [Entity("light.kitchen_ceiling", "Kitchen ceiling", HomeSource.HOME_ASSISTANT, area="Kitchen"),
                Entity("light.desk", "Desk lamp", HomeSource.HOME_ASSISTANT, area="Office")]
    states = {"light.kitchen_ceiling": EntityState("light.kitchen_ceiling", "on", {"brightness": 255}),
              "light.desk": EntityState("light.desk", "off")}
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        hub.services.clock = lambda: NOW
        hub.services.answers.home = HomeContext(lambda: entities, lambda entity: states.get(entity.entity_id))
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen-sat"]
        await session.start(session.new_turn(text="My name is Sam."))
        await session.wait_idle()
        question = session.new_turn(text="Is the ceiling light in the kitchen on?")
        await session.start(question)
        await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id == question.turn_id, 120)
    await kitchen.close()
    prompts = [e.data.prompt for e in recorder.events if e.kind is EventKind.LLM_STARTED]
    prompt = prompts[-1]
    assert "Monday 30 November 2026, 1:29 PM" in prompt and "The user is in the kitchen." in prompt
    assert "the user's name is Sam" in prompt
    assert "Kitchen ceiling (light, Kitchen) is on at 100% brightness." in prompt
    assert "Desk lamp" not in prompt
    assert "Q: My name is Sam" in prompt  # the last turn, as the base model sees it


@pytest.mark.models
async def test_questions_with_a_deterministic_answer_never_reach_the_model(broker, hub_models, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        hub.services.clock = lambda: NOW
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen"]
        await session.start(session.new_turn(text="What is 17 times 23?"))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
    await kitchen.close()
    assert ended.data.handler == "quick_maths" and ended.data.response == "17 times 23 is 391."
    assert EventKind.LLM_STARTED not in recorder.kinds("kitchen")
    assert kitchen.answers and len(kitchen.answers[0].audio) > 0
