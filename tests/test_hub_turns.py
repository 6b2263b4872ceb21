"""The hub with real models drives a Wyoming satellite through whole turns, over real sockets and MQTT."""

from __future__ import annotations

import asyncio

import pytest
from wyoming.timer import TimerStarted

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from protocol.payloads import ConversationState, InterruptReason, TurnReport
from protocol.wyoming_events import InterruptEvent
from testbed.hub_rig import running_hub, wait_until, watching
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(300)


def phases(recorder: EventRecorder, satellite: str) -> list[str]:
    return [e.data.after for e in recorder.events if e.kind is EventKind.STATE_CHANGED and e.satellite == satellite]


async def test_time_question_is_answered_fast_path_with_timings_on_mqtt(broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    topics_seen_filter = "voice/v1/conversation/kitchen/#"
    async with watching(broker, topics_seen_filter) as seen, running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        await kitchen.say(speech("What time is it?"))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        await wait_until(lambda: any(isinstance(m, TurnReport) for m in seen), 10)
    await kitchen.close()

    assert "time" in kitchen.transcripts[0].lower()
    assert ended.data.handler == "time" and ended.data.outcome == "done"
    assert ended.data.response.startswith("It's ")
    answer = kitchen.answers[0]
    assert answer.rate == hub_models.tts.audio_format.rate
    assert len(answer.audio) > answer.rate  # at least half a second of speech
    assert phases(recorder, "kitchen") == ["listening", "thinking", "speaking", "idle"]
    report = next(m for m in seen if isinstance(m, TurnReport))
    assert report.handler == "time" and "time" in report.transcript.lower()
    t = report.timings
    assert t.endpointing_ms is not None and t.transcript_ms is not None and t.first_audio_ms is not None
    assert t.endpointing_ms <= t.transcript_ms <= t.first_audio_ms <= (t.last_audio_ms or 0)
    # Whisper ran during the end-of-speech silence window, so the transcript was ready almost at once.
    transcript = next(e for e in recorder.events if e.kind is EventKind.TRANSCRIPT)
    assert transcript.data.early is True
    assert t.transcript_ms - t.endpointing_ms < transcript.data.stt_ms
    states = [m.phase.value for m in seen if isinstance(m, ConversationState)]
    assert states[-1] == "idle" and "speaking" in states


async def test_timer_request_sends_wyoming_timer_event(broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        await kitchen.say(speech("Set a timer for two minutes."))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        timers = [TimerStarted.from_event(e) for e in kitchen.received if TimerStarted.is_type(e.type)]
        assert [t.id for t in hub.timers.running("kitchen")] == [timers[0].id]
    await kitchen.close()
    assert ended.data.handler == "timer_start"
    assert timers[0].total_seconds == 120
    assert "2 minutes" in ended.data.response


async def test_free_question_streams_llm_answer_sentence_by_sentence(broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        await kitchen.say(speech("Why is the sky blue?"))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 120)
    await kitchen.close()
    assert "sky" in kitchen.transcripts[0].lower()
    assert ended.data.handler == "llm" and ended.data.outcome == "done"
    assert len(ended.data.response) > 10
    kinds = recorder.kinds("kitchen")
    # The first sentence went to TTS, and its audio to the satellite, before the answer was complete.
    assert kinds.index(EventKind.FIRST_TOKEN) < kinds.index(EventKind.SENTENCE) < kinds.index(EventKind.AUDIO_STARTED)
    assert kinds.index(EventKind.AUDIO_STARTED) < kinds.index(EventKind.AUDIO_FINISHED)
    assert len(kitchen.answers[0].audio) > 0


async def test_barge_in_interrupts_long_answer_and_listens_again(broker, hub_models, speech, tmp_path):
    # It plays in real time: no early "played", so the answer is still going when the user barges in.
    kitchen = SimSatellite("kitchen", send_played=False)
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        hub.services.style_for = lambda satellite, room: "detailed"
        await kitchen.say(speech("Tell me a long story about a dragon who lives in a castle."))
        await recorder.wait_for(lambda e: e.kind is EventKind.AUDIO_STARTED, 120)
        first_turn = kitchen.turn_ids[0]
        # The user says the wake word over the answer: the satellite stops playback and tells the hub.
        await kitchen.send(InterruptEvent(reason=InterruptReason.WAKE_WORD, turn_id=first_turn).event())
        interrupted = await recorder.wait_for(lambda e: e.kind is EventKind.INTERRUPTED, 5)
        chunks_at_interrupt = len(kitchen.answers[0].audio)
        say_again = asyncio.create_task(kitchen.say(speech("What time is it?")))
        second = await recorder.wait_for(
            lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id != first_turn, 60)
        await say_again
    await kitchen.close()

    assert interrupted.data.reason == "wake_word"
    ended_first = next(e for e in recorder.events if e.kind is EventKind.TURN_ENDED and e.turn_id == first_turn)
    assert ended_first.data.outcome == "interrupted"
    # No more audio of the interrupted answer after the interrupt.
    assert len(kitchen.answers[0].audio) == chunks_at_interrupt
    assert phases(recorder, "kitchen")[:6] == ["listening", "thinking", "speaking", "interrupted", "idle", "listening"]
    assert second.data.handler == "time"
    # Context keeps only what was actually spoken.
    history = hub.sessions["kitchen"].history
    assert history[0][1] == interrupted.data.spoken
    assert len(history[0][1]) < 4000


async def test_a_typed_request_goes_through_the_same_phases_without_invariant_violations(broker, hub_models, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        session = hub.sessions["kitchen"]
        await session.start(session.new_turn(text="What time is it?"))
        await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        assert phases(recorder, "kitchen")[:3] == ["listening", "thinking", "speaking"]
        assert not hub.states.machine("kitchen").violations
    await kitchen.close()
