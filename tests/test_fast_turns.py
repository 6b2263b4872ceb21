"""Whole turns through the real hub in well under a second each: only the three models are fakes.

A simulated satellite wakes and streams real speech over a real Wyoming socket; the hub's own VAD
decides the end of speech; the fake recogniser hears what the clip says, the fake model streams a
scripted answer, the fake voice returns silence as long as the words. What is asserted is what a
person would notice: what the satellite is told it heard, what it is made to say and for how long,
and the light ring's phases.
"""

from __future__ import annotations

import pytest

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.llm.base import LlmUnreachable
from testbed.fakes import ScriptedLanguageModel, ScriptedSpeechToText, SilentSpeech, fake_models
from testbed.simsat import SimSatellite
from testbed.speech_corpus import silence
from tests.fast_rig import fast_hub, field, first, kinds, phases, turn_ended

pytestmark = pytest.mark.timeout(60)

SKY = "Sunlight scatters off the air. Blue light scatters the most, so the sky looks blue to us."


async def test_a_command_is_answered_on_the_fast_path_without_the_language_model(espeak, tmp_path):
    stt, llm, tts = ScriptedSpeechToText(), ScriptedLanguageModel(), SilentSpeech()
    clip = stt.teach((espeak("What time is it?"), "What time is it?"))
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        ended = await turn_ended(recorder, kitchen, clip)
        await kitchen.answers[0].done.wait()
        assert phases(hub, "kitchen") == ["listening", "thinking", "speaking", "idle"]
    await kitchen.close()

    assert kitchen.transcripts == ["What time is it?"]
    assert field(ended, "handler") == "time" and field(ended, "outcome") == "done"
    said = field(ended, "response")
    assert said.startswith("It's ") and tts.said == [said]
    assert llm.streams == []  # the clock answered; the model was never asked
    answer = kitchen.answers[0]
    assert answer.rate == tts.audio_format.rate
    assert len(answer.audio) == pytest.approx(tts.seconds(said) * answer.rate * 2, abs=4096)


async def test_a_question_streams_the_model_answer_sentence_by_sentence_into_speech(espeak, tmp_path):
    stt, tts = ScriptedSpeechToText(), SilentSpeech()
    llm = ScriptedLanguageModel({"why is the sky blue": SKY}, piece_delay_s=0.01)
    clip = stt.teach((espeak("Why is the sky blue?"), "Why is the sky blue?"))
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        ended = await turn_ended(recorder, kitchen, clip)
        history = list(hub.sessions["kitchen"].history)
    await kitchen.close()

    assert field(ended, "handler") == "llm" and field(ended, "outcome") == "done"
    assert field(ended, "response") == SKY
    # Each sentence went to the voice on its own, the first before the model had written the second.
    assert tts.said == ["Sunlight scatters off the air.", "Blue light scatters the most, so the sky looks blue to us."]
    order = kinds(recorder, "kitchen")
    assert order.index(EventKind.FIRST_TOKEN) < order.index(EventKind.SENTENCE) < order.index(EventKind.AUDIO_STARTED)
    first_spoken = first(recorder, EventKind.SENTENCE_SPOKEN)
    assert first_spoken.t < recorder.events[-1].t and llm.streams[-1].finished
    sentence_t = [e.t for e in recorder.events if e.kind is EventKind.SENTENCE]
    assert sentence_t[0] < first(recorder, EventKind.AUDIO_FINISHED).t and len(sentence_t) == 2
    # The model was told where it is and asked the words the person said, once (the speculative start adopted).
    request = llm.streams[-1].request
    assert request.user_text == "Why is the sky blue?" and request.room == "Kitchen"
    # It was started on the transcript made during the silence window, and that start was kept: one request.
    assert field(first(recorder, EventKind.LLM_STARTED), "speculative") == "hit" and len(llm.streams) == 1
    assert len(kitchen.answers) == 1
    spoken_s = sum(tts.seconds(sentence) for sentence in tts.said)
    assert len(kitchen.answers[0].audio) == pytest.approx(spoken_s * kitchen.answers[0].rate * 2, abs=4096)
    assert history == [("Why is the sky blue?", SKY)]


async def test_a_doubtful_transcript_is_asked_again_and_the_clear_retake_is_acted_on(espeak, tmp_path):
    stt, llm, tts = ScriptedSpeechToText(), ScriptedLanguageModel(), SilentSpeech()
    mumbled = stt.teach((espeak("What is the time?"), "What is the time?"), avg_logprob=-1.6)
    clear = stt.teach((espeak("What time is it?"), "What time is it?"))
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        doubted = await turn_ended(recorder, kitchen, mumbled)
        retake = await turn_ended(recorder, kitchen, clear)
        asked = first(recorder, EventKind.ASKED_TO_REPEAT)
    await kitchen.close()

    assert field(doubted, "handler") == "ask_again" and field(doubted, "outcome") == "done"
    assert field(asked, "said") == field(doubted, "response") and tts.said[0] == field(asked, "said")
    assert "sorry" in field(asked, "said").lower()
    assert field(retake, "handler") == "time" and tts.said[1].startswith("It's ")
    assert llm.streams == []  # a guess never reaches the language model


async def test_nobody_speaking_after_a_wake_gets_no_answer(espeak, tmp_path):
    stt, tts = ScriptedSpeechToText(), SilentSpeech()
    cough = stt.teach((espeak("Hm."), "Thank you."), avg_logprob=-1.2, no_speech_prob=0.9)
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, tts=tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        ended = await turn_ended(recorder, kitchen, cough)
    await kitchen.close()
    assert field(ended, "handler") == "no_speech" and field(ended, "response") == ""
    assert tts.said == [] and kitchen.answers == []  # "sorry?" would only talk over the room


async def test_a_model_that_cannot_be_reached_is_heard_and_the_turn_ends_as_an_error(espeak, tmp_path):
    stt, tts = ScriptedSpeechToText(), SilentSpeech()
    llm = ScriptedLanguageModel({"why is the sky blue": SKY}, fail=LlmUnreachable("connection refused"))
    clip = stt.teach((espeak("Why is the sky blue?"), "Why is the sky blue?"))
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        ended = await turn_ended(recorder, kitchen, clip)
        assert phases(hub, "kitchen")[-2:] == ["error", "idle"]
    await kitchen.close()
    assert field(ended, "outcome") == "error" and field(ended, "error_code") == "llm_unreachable"
    assert LlmUnreachable.spoken in tts.said  # the person hears why, not silence


async def test_a_complete_command_ends_listening_early_but_going_on_after_it_is_not_cut_off(espeak, tmp_path):
    stt = ScriptedSpeechToText()
    command = stt.teach((espeak("What time is it?"), "What time is it?"))
    going_on = stt.teach((espeak("What time is it"), "What time is it"), (silence(0.4), ""),
                         (espeak("in Tokyo?"), "in Tokyo?"))
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        for clip in (command, going_on):  # in real time: the early guess races the person's next words
            await kitchen.say(clip)
            await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id == kitchen.turn_ids[-1], 10)
    await kitchen.close()

    ends = [e for e in recorder.events if e.kind is EventKind.SPEECH_ENDED]
    # A whole command is acted on after the short command window (600 ms), not the full 700 ms one.
    assert field(ends[0], "by") == "command" and field(ends[0], "command_guessed")
    assert kitchen.transcripts[0] == "What time is it?"
    # "What time is it" was a whole command too, but the person went on within the window: nothing was cut.
    assert kitchen.transcripts[1] == "What time is it in Tokyo?"
    assert field(ends[1], "command_guessed") and (field(ends[1], "command_continued_ms") or 0) >= 300
