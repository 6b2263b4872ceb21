"""The real hub records every session, replays it exactly, remembers facts across restarts and obeys learning commands."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from hub.conversation.bus import EventRecorder
from hub.conversation.event_data import TurnEnded
from hub.conversation.events import EventKind
from hub.learning.contract import END_OF_SPEECH, Proposal
from hub.storage.recorder import session_path
from hub.storage.replay import load, replay
from protocol.commands import LearningCommand, TuneCommand
from protocol.payloads import CommandResult, LearningAction, LearningDecision, ResultStatus
from protocol.topics import HubTopic
from testbed.hub_rig import running_hub, wait_until, watching
from testbed.simsat import SimSatellite
from tests.learning_sim import Household, Simulation

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parent.parent


async def one_turn(hub, satellite: SimSatellite, pcm: bytes) -> TurnEnded:
    recorder = EventRecorder(hub.bus)
    await satellite.say(pcm)
    ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 90)
    assert isinstance(ended.data, TurnEnded)
    return ended.data


async def test_a_recorded_session_replays_to_the_same_transitions_and_decisions(broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        live = EventRecorder(hub.bus)
        first = await one_turn(hub, kitchen, speech("What time is it?"))
        second = await one_turn(hub, kitchen, speech("My name is Sam."))
        assert first.outcome == "done" and second.outcome == "done"
        assert "Sam" in " ".join(hub.memory.statements())
        path = hub.recorder.path
    await kitchen.close()

    recording = load(path)
    kinds = [e["kind"] for e in recording.entries if e["type"] == "event"]
    assert kinds.count("turn-started") == 2 and "transcript" in kinds and "llm-started" in kinds
    llm = next(e for e in recording.entries if e.get("kind") == "llm-started")
    assert "Sam" in llm["data"]["prompt"] or "sam" in llm["data"]["prompt"].lower()

    result = replay(recording)
    assert result.matches, result.first_difference()
    live_transitions = [(e.satellite, e.turn_id, e.data.before, e.data.after)
                        for e in live.events if e.kind is EventKind.STATE_CHANGED]
    assert result.replayed_transitions == live_transitions and len(live_transitions) >= 8
    assert any(d[2] == "style" for d in result.replayed_decisions)  # the style chosen for the LLM turn

    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "hub", "replay", "last", "--data-dir", str(tmp_path / "hub")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "identical" in cli.stdout
    assert session_path(tmp_path / "hub", "last") == path


def test_a_tampered_recording_is_reported_as_different(tmp_path):
    from hub.conversation import event_data as ev
    from hub.conversation.events import ConversationEvent
    from hub.storage.recorder import SessionRecorder
    from protocol.payloads import ConversationPhase, TurnOutcome

    recorder = SessionRecorder(tmp_path, lambda: {})
    for data in (ev.TurnStarted(room="Hall", listen=True),
                 ev.SpeechEnded(by=ev.EndOfSpeech.SILENCE, speech_end_t=1.0),
                 ev.StateChanged(before=ConversationPhase.IDLE, after=ConversationPhase.LISTENING,
                                 cause=EventKind.TURN_STARTED),
                 ev.TurnEnded(outcome=TurnOutcome.DONE)):
        recorder(ConversationEvent("hall", data, turn_id="t1"))
    recorder.close()
    result = replay(load(recorder.path))
    assert not result.matches
    assert "transition 2: recorded None" in (result.first_difference() or "")  # the thinking phase is missing
    cli = subprocess.run([sys.executable, "-m", "hub", "replay", str(recorder.path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert cli.returncode == 1 and "DIFFERENT" in cli.stdout


async def test_memory_and_learning_survive_a_hub_restart(broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        await one_turn(hub, kitchen, speech("My name is Sam."))
        # Forty turns of people who pause mid-sentence (synthetic events into the hub's learner).
        Simulation(hub.learner, [Household("Kitchen", pause_ms=(900.0, 30.0))]).run(40)
        learned = hub.learner.value("Kitchen", END_OF_SPEECH)
        assert learned > 700
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        assert hub.learner.value("Kitchen", END_OF_SPEECH) == learned
        endpoint = hub.sessions["kitchen"].endpoint
        assert endpoint is not None and endpoint.silence_ms == learned
        assert hub.sessions["kitchen"].history and "Sam" in hub.sessions["kitchen"].history[-1][0]
        recorder = EventRecorder(hub.bus)
        await one_turn(hub, kitchen, speech("What is my name?"))
        llm = next(e for e in recorder.events if e.kind is EventKind.LLM_STARTED)
        assert "the user's name is Sam" in llm.data.prompt.replace("sam", "Sam")
    await kitchen.close()


async def test_learning_commands_and_decisions_travel_over_mqtt(broker, hub_models, tmp_path):
    from common.mqtt import MqttLink

    study = SimSatellite("study", area="Study")
    await study.start()
    async with watching(broker, "voice/v1/#") as seen, running_hub(broker, hub_models, [study], tmp_path) as hub:
        learner = hub.learner
        Simulation(learner, [Household("Study", pause_ms=(900.0, 30.0))]).run(12)  # everyone gets cut off at 700 ms
        await wait_until(lambda: any(isinstance(m, TuneCommand) and m.end_of_speech_silence_ms == 900 for m in seen))
        update = next(m for m in seen if isinstance(m, LearningDecision) and m.action is LearningAction.UPDATE)
        assert (update.room, update.parameter, update.old_value, update.new_value) == ("Study", END_OF_SPEECH, 700, 900)
        assert "cut off mid-sentence" in update.reason and update.evidence["cut_off"] >= 10
        assert hub.sessions["study"].endpoint.silence_ms == 900
        assert not learner.propose(Proposal("Study", END_OF_SPEECH, 900, 1500, "too far", {}))
        await wait_until(lambda: any(isinstance(m, LearningDecision) and m.action is LearningAction.REJECTED
                                     for m in seen))

        freeze = LearningCommand(command="learning", action="freeze", room="Study")
        unknown = LearningCommand(command="learning", action="rollback", room="Attic")
        async with MqttLink(broker.settings("homeassistant"), "test-admin").running() as admin:
            for command in (freeze, unknown):
                admin.publish(admin.topics.hub(HubTopic.COMMAND), command)
            await wait_until(lambda: sum(isinstance(m, CommandResult) and m.id in (freeze.id, unknown.id)
                                         for m in seen) >= 2)
        results = {m.id: m for m in seen if isinstance(m, CommandResult)}
        assert results[freeze.id].status is ResultStatus.DONE
        assert results[unknown.id].status is ResultStatus.ERROR and results[unknown.id].code == "unknown_room"
        assert any(isinstance(m, LearningDecision) and m.action is LearningAction.FREEZE for m in seen)
        assert learner.rooms["Study"][END_OF_SPEECH].frozen
    await study.close()
