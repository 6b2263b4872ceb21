"""Recordings carry their format: today's replay, older ones are converted, unknown ones are refused in one line.

``tests/recordings/format1-learning-session.jsonl`` was written by the hub before the event payloads were
typed (commit f102ef6: ``tests/learning_sim.py`` households through the state machine, the learner and the
session recorder, plus one hand-made turn with a wake, an intent and a device action as that hub wrote them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hub.conversation import event_data as ev
from hub.conversation.bus import EventBus
from hub.conversation.state_machine import StateTracker
from hub.learning.learner import Learner
from hub.storage.event_format import FORMAT, event_from_json
from hub.storage.recorder import SessionRecorder
from hub.storage.replay import SessionFormatError, load, replay
from protocol.payloads import ConversationPhase, TurnOutcome
from tests.learning_sim import Household, Simulation

ROOT = Path(__file__).resolve().parent.parent
FORMAT_1 = ROOT / "tests" / "recordings" / "format1-learning-session.jsonl"
HOMES = [Household("Hall", pause_ms=(600.0, 60.0), follow_up={"brief": 0.5}),
         Household("Kitchen", tv_false_wake=0.3, interrupt={"detailed": 0.8})]


def test_a_recording_from_before_typed_events_replays_identically() -> None:
    recording = load(FORMAT_1)
    assert recording.format == 1
    result = replay(recording)
    assert result.matches, result.first_difference()
    # What the old hub recorded is all still checked: nothing was skipped in the conversion.
    assert (result.events, len(result.recorded_transitions), len(result.recorded_decisions)) == (165, 91, 24)
    assert any(d[2] == "update" for d in result.replayed_decisions)  # a learned end-of-speech change, made again


def test_old_events_read_as_the_typed_payloads() -> None:
    raw = [json.loads(line) for line in FORMAT_1.read_text().splitlines()]
    events = [event_from_json(entry, 1) for entry in raw if entry["type"] == "event"]
    started = next(e.data for e in events if e.turn_id == "final" and isinstance(e.data, ev.TurnStarted))
    assert started.wake == ev.Wake(wake_word="hey_jarvis", score=0.93, level_dbfs=-21.5, preroll_ms=1200.0)
    lost = next(e.data for e in events if isinstance(e.data, ev.ArbitrationLost))
    assert lost.wake is not None and lost.wake.level_dbfs == -33.0
    change = next(e.data for e in events if isinstance(e.data, ev.StateChanged))
    assert (change.before, change.after, change.cause) == (ConversationPhase.IDLE, ConversationPhase.LISTENING,
                                                           ev.EventKind.TURN_STARTED)
    action = next(e.data for e in events if isinstance(e.data, ev.DeviceAction))
    assert action.result is ev.DeviceResult.CONFIRMED and action.source is ev.HomeSource.HOME_ASSISTANT
    ended = [e.data for e in events if isinstance(e.data, ev.TurnEnded)]
    assert ended[-1].outcome is TurnOutcome.DONE and ended[-1].handler == "turn_on"
    assert {d.outcome for d in ended} >= {TurnOutcome.DONE, TurnOutcome.TIMEOUT, TurnOutcome.INTERRUPTED}


def test_a_recording_made_today_says_its_format_and_replays_identically(tmp_path: Path) -> None:
    bus = EventBus()
    learner = Learner()
    recorder = SessionRecorder(tmp_path, lambda: learner.state(waiting=True))
    StateTracker(bus)
    bus.subscribe(learner)
    learner.on_decision = recorder.decision
    bus.subscribe(recorder)
    Simulation(learner, HOMES, seed=3, sink=bus.emit).run(10)
    learner.flush()
    recorder.close()
    assert recorder.path is not None
    header = json.loads(recorder.path.read_text().splitlines()[0])
    assert header["format"] == FORMAT == 2

    recording = load(recorder.path)
    result = replay(recording)
    assert result.matches, result.first_difference()
    assert len(result.recorded_transitions) > 50 and any(d[2] == "update" for d in result.recorded_decisions)
    wakes = [e["data"]["wake"] for e in recording.entries if e.get("kind") == "turn-started"]
    assert wakes and all(w["wake_word"] == "hey_jarvis" for w in wakes)  # the wake travels as one typed field


def test_an_unknown_format_is_refused_with_one_line_naming_it(tmp_path: Path) -> None:
    lines = FORMAT_1.read_text().splitlines()
    header = json.loads(lines[0])
    header["format"] = 99
    future = tmp_path / "future.jsonl"
    future.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    try:
        load(future)
    except SessionFormatError as err:
        assert "recording format 99 is not one this hub reads (formats 1 to 2)" in str(err)
    else:
        raise AssertionError("a format-99 recording was read")

    cli = subprocess.run([sys.executable, "-m", "hub", "replay", str(future)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert cli.returncode == 2
    assert cli.stderr.strip().count("\n") == 0 and "recording format 99" in cli.stderr, cli.stderr
