"""Barge-in through the real hub on fake models: what was said stays, what was not is dropped.

The fake model writes its answer piece by piece with a delay, so a wake word lands mid-answer as it
does with a real one; the satellite plays in real time (no early ``played``).
"""

from __future__ import annotations

import asyncio

import pytest
from wyoming.audio import AudioChunk

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from protocol.payloads import InterruptReason
from protocol.wyoming_events import InterruptEvent
from testbed.fakes import ScriptedLanguageModel, ScriptedSpeechToText, SilentSpeech, fake_models
from testbed.simsat import SimSatellite
from tests.fast_rig import fast_hub, field, first, phases, say

pytestmark = pytest.mark.timeout(60)

STORY = ("Once upon a time, a dragon lived in a castle. Every morning it counted its gold coins. "
         "One day a knight came to visit. They became friends and shared breakfast. The end.")
SENTENCES = ["Once upon a time, a dragon lived in a castle.", "Every morning it counted its gold coins.",
             "One day a knight came to visit.", "They became friends and shared breakfast.", "The end."]


def storyteller() -> tuple[ScriptedSpeechToText, ScriptedLanguageModel, SilentSpeech]:
    # Each sentence plays for about 0.1 s, and the next takes about 0.4 s to write: by the time the second
    # sentence is spoken the first has surely played, and the story is far from its end.
    llm = ScriptedLanguageModel({"tell me a story": STORY}, piece_delay_s=0.05)
    return ScriptedSpeechToText(), llm, SilentSpeech(seconds_per_char=0.002)


def spoken_prefix(spoken: str) -> int:
    """How many whole sentences of the story ``spoken`` is (it must be exactly a first part of it)."""
    for n in range(len(SENTENCES) + 1):
        if " ".join(SENTENCES[:n]) == spoken:
            return n
    raise AssertionError(f"not whole sentences from the story's start: {spoken!r}")


async def test_a_wake_word_over_the_answer_stops_it_and_keeps_only_what_was_said(espeak, tmp_path):
    stt, llm, tts = storyteller()
    story = stt.teach((espeak("Tell me a story."), "Tell me a story."))
    kitchen = SimSatellite("kitchen", send_played=False)
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        await say(kitchen, story)
        await recorder.wait_for(lambda e: e.kind is EventKind.SENTENCE_SPOKEN and field(e, "index") == 1, 10)
        turn_id = kitchen.turn_ids[0]
        # Our satellite heard its wake word over the answer: it stops playing and tells the hub.
        await kitchen.send(InterruptEvent(reason=InterruptReason.WAKE_WORD, turn_id=turn_id).event())
        interrupted = await recorder.wait_for(lambda e: e.kind is EventKind.INTERRUPTED, 5)
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 5)
        chunks_then = sum(1 for e in kitchen.received if AudioChunk.is_type(e.type))
        await asyncio.sleep(0.3)  # the model would have written two more sentences by now
        chunks_later = sum(1 for e in kitchen.received if AudioChunk.is_type(e.type))
        history = list(hub.sessions["kitchen"].history)
        assert phases(hub, "kitchen") == ["listening", "thinking", "speaking", "interrupted", "idle"]
    await kitchen.close()

    assert field(interrupted, "reason") == "wake_word"
    spoken = field(interrupted, "spoken")
    assert 1 <= spoken_prefix(spoken) < len(SENTENCES)
    assert field(ended, "outcome") == "interrupted" and field(ended, "response") == spoken
    assert chunks_later == chunks_then  # nothing more of the old answer reached the speaker
    assert not llm.streams[-1].finished  # the model stopped writing too
    assert len(tts.said) < len(SENTENCES)
    assert len(history) == 1 and history[0][1] == spoken  # the next question's context holds only what was heard


async def test_a_new_wake_while_speaking_interrupts_and_the_new_question_is_answered(espeak, tmp_path):
    stt, llm, tts = storyteller()
    story = stt.teach((espeak("Tell me a story."), "Tell me a story."))
    time_please = stt.teach((espeak("What time is it?"), "What time is it?"))
    kitchen = SimSatellite("kitchen", send_played=False)
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        await say(kitchen, story)
        await recorder.wait_for(lambda e: e.kind is EventKind.SENTENCE_SPOKEN and field(e, "index") == 1, 10)
        first_turn = kitchen.turn_ids[0]
        kitchen.send_played = True  # the short answer to come is reported played, as soon as it is sent
        await say(kitchen, time_please)  # a plain wake and a new question, as a stock satellite sends it
        second = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id != first_turn, 10)
        interrupted = first(recorder, EventKind.INTERRUPTED)
        assert phases(hub, "kitchen")[:6] == ["listening", "thinking", "speaking", "interrupted", "idle", "listening"]
    await kitchen.close()

    assert interrupted.turn_id == first_turn and field(interrupted, "reason") == "wake_word"
    assert 1 <= spoken_prefix(field(interrupted, "spoken")) < len(SENTENCES)
    assert field(second, "handler") == "time" and field(second, "response").startswith("It's ")
    assert kitchen.transcripts == ["Tell me a story.", "What time is it?"]
