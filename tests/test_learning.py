"""The learning layer converges on each household's habits, stays inside its limits and undoes bad changes."""

from __future__ import annotations

from typing import Any

import pytest

from hub.learning.contract import END_OF_SPEECH, WAKE_THRESHOLD, Proposal
from hub.learning.learner import Learner, LearningCommandError
from hub.learning.rules import END_OF_SPEECH_FLOOR_MS, MIN_PAUSED_UTTERANCES, PARAMETERS, parameters
from hub.storage.store import Store
from protocol.payloads import LearningAction, LearningDecision
from tests.learning_sim import Household, Simulation

PAUSER = Household("study", pause_ms=(900.0, 30.0))
"""People here stop for about 0.9 s in the middle of a sentence."""
TERSE = Household("kitchen", pause_ms=(120.0, 40.0))
"""Short commands, no pauses beyond the gaps between words."""
NO_PAUSES = Household("hall", pause_ms=(0.0, 0.0))
"""Synthetic speech: the endpointer never measures a pause (issue 13: this took a room from 700 to 300 ms)."""


class Watch:
    """Everything the learner published and changed."""

    def __init__(self) -> None:
        self.decisions: list[LearningDecision] = []
        self.changes: list[tuple[str, str, float]] = []

    def learner(self, **kwargs: object) -> Learner:
        return Learner(on_decision=self.decisions.append,
                       on_change=lambda room, p, v: self.changes.append((room, p, v)), **kwargs)  # type: ignore[arg-type]

    def actions(self, action: LearningAction, room: str | None = None) -> list[LearningDecision]:
        return [d for d in self.decisions if d.action is action and (room is None or d.room == room)]


@pytest.mark.slow  # hundreds of simulated turns per room
def test_end_of_speech_window_converges_per_room_within_limits() -> None:
    watch = Watch()
    learner = watch.learner()
    sim = Simulation(learner, [PAUSER, TERSE])
    sim.run(300)

    # The study's best window is just past its 0.9 s pauses (their 99th percentile is 0.97 s):
    # long enough that nobody is cut off, not so long that every answer waits.
    study = learner.value("study", END_OF_SPEECH)
    assert 980 <= study <= 1150, study
    assert sum(sim.cut_offs["study"][-100:]) <= 3
    assert sum(sim.cut_offs["study"][:10]) >= 8  # it did start out cutting people off at 700 ms
    # The kitchen's people barely pause: the window goes down to the floor, and never below it.
    assert learner.value("kitchen", END_OF_SPEECH) == PARAMETERS[END_OF_SPEECH].low == END_OF_SPEECH_FLOOR_MS
    assert not any(sim.cut_offs["kitchen"])

    spec = PARAMETERS[END_OF_SPEECH]
    assert all(spec.low <= v <= spec.high for room, p, v in watch.changes if p == END_OF_SPEECH)
    updates = watch.actions(LearningAction.UPDATE)
    assert updates and all(abs(float(d.new_value or 0) - float(d.old_value or 0)) <= spec.max_step for d in updates
                           if d.parameter == END_OF_SPEECH)
    first = next(d for d in updates if d.room == "study")
    assert "cut off" in first.reason and first.evidence["cut_off"] >= 8


def test_a_room_whose_speech_never_pauses_teaches_nothing_about_pauses() -> None:
    watch = Watch()
    learner = watch.learner()
    Simulation(learner, [NO_PAUSES]).run(120)

    assert learner.value("hall", END_OF_SPEECH) == PARAMETERS[END_OF_SPEECH].default
    assert not [d for d in watch.decisions if d.parameter == END_OF_SPEECH]


def test_the_window_needs_enough_utterances_with_real_pauses_before_it_shrinks() -> None:
    from hub.learning.rules import end_of_speech_target
    from hub.learning.signals import TurnSignals

    def utterance(pause_ms: float) -> TurnSignals:
        return TurnSignals(satellite="s", room="r", turn_id="t", started_wall=0.0, ended_t=0.0, outcome="done",
                           woke=True, heard_speech=True, false_wake=False, near_miss=False, interrupted=False,
                           cut_off=False, pause_ms=pause_ms, silence_ms=700, transcript="turn on the lights",
                           style=None)

    few = [utterance(200.0)] * (MIN_PAUSED_UTTERANCES - 1) + [utterance(0.0)] * 10
    assert end_of_speech_target(700, few) is None
    enough = few + [utterance(200.0)]
    target = end_of_speech_target(700, enough)
    assert target is not None and target.value == 300 and target.evidence["paused"] == MIN_PAUSED_UTTERANCES


def test_the_floor_is_a_setting_and_a_value_learned_below_it_is_lifted() -> None:
    watch = Watch()
    learner = watch.learner(parameters=parameters(end_of_speech_floor_ms=600))
    Simulation(learner, [TERSE]).run(150)
    assert learner.value("kitchen", END_OF_SPEECH) == 600
    assert min(v for _, p, v in watch.changes if p == END_OF_SPEECH) == 600

    # A home that learned 300 ms under the old limits keeps nothing below today's floor.
    state = learner.state()
    state["rooms"]["kitchen"][END_OF_SPEECH]["value"] = 300
    assert Learner(state=state).value("kitchen", END_OF_SPEECH) == END_OF_SPEECH_FLOOR_MS


def test_asked_to_repeat_is_a_signal_and_a_no_speech_wake_counts_as_false() -> None:
    from hub.conversation import event_data as ev
    from hub.conversation.events import ConversationEvent, EventData
    from hub.learning.signals import SignalExtractor
    from hub.pipeline.transcript import Doubt
    from protocol.payloads import TurnOutcome

    extractor = SignalExtractor()
    t = 10.0

    def turn(turn_id: str, *events: EventData) -> list:
        nonlocal t
        out = []
        for data in (ev.TurnStarted(room="Hall", wake=ev.Wake(wake_word="hey_jarvis"), listen=True),
                     ev.SpeechStarted(), *events, ev.TurnEnded(outcome=TurnOutcome.DONE)):
            t += 0.5
            out += extractor.feed(ConversationEvent("hall", data, t=t, wall=t, turn_id=turn_id))
        return out

    def heard(text: str, **extra: Any) -> ev.Transcript:
        return ev.Transcript(text=text, audio_ms=1500.0, stt_ms=200.0, **extra)

    asked = turn("a", heard("Jarvis.", cleaned="", doubt=Doubt.FRAGMENT),
                 ev.AskedToRepeat(reason=Doubt.FRAGMENT, said="Sorry, I didn't catch that."), ev.AudioStarted())
    t += 60
    quiet = turn("b", heard("Thank you.", doubt=Doubt.NO_SPEECH, no_speech_prob=0.93))
    plain = turn("c", heard("what time is it"))
    signals = {s.turn_id: s for s in [*asked, *quiet, *plain, *extractor.flush()]}
    assert signals["a"].asked_to_repeat and signals["a"].doubt == "fragment" and not signals["a"].false_wake
    assert signals["b"].false_wake and signals["b"].doubt == "no_speech" and not signals["b"].asked_to_repeat
    assert not signals["c"].asked_to_repeat and not signals["c"].false_wake and signals["c"].doubt is None


def test_an_injected_bad_update_is_rolled_back_automatically() -> None:
    watch = Watch()
    learner = watch.learner()
    sim = Simulation(learner, [PAUSER], seed=3)
    sim.run(200)
    good = learner.value("study", END_OF_SPEECH)
    assert 980 <= good <= 1150

    # A bad change that the contract allows (one bounded step, after the cooldown): people get cut off again.
    assert learner.propose(Proposal("study", END_OF_SPEECH, good, good - 200, "injected bad update", {}))
    assert learner.value("study", END_OF_SPEECH) == good - 200
    sim.run(PARAMETERS[END_OF_SPEECH].probation_turns)

    rollback = watch.actions(LearningAction.ROLLBACK, "study")
    assert len(rollback) == 1, watch.decisions[-5:]
    assert rollback[0].new_value == good and "reward fell" in rollback[0].reason
    assert learner.value("study", END_OF_SPEECH) == good
    assert watch.changes[-1] == ("study", END_OF_SPEECH, good)


def test_the_contract_rejects_oversized_out_of_range_and_hasty_updates() -> None:
    watch = Watch()
    learner = watch.learner()
    Simulation(learner, [TERSE]).run(120)
    current = learner.value("kitchen", END_OF_SPEECH)

    assert not learner.propose(Proposal("kitchen", END_OF_SPEECH, current, current + 900, "too big", {}))
    assert not learner.propose(Proposal("kitchen", END_OF_SPEECH, current, 250, "below the floor", {}))
    assert learner.propose(Proposal("kitchen", END_OF_SPEECH, current, current + 100, "fine", {}))
    assert not learner.propose(Proposal("kitchen", END_OF_SPEECH, current + 100, current, "too soon", {}))

    rejected = watch.actions(LearningAction.REJECTED, "kitchen")
    reasons = [d.reason for d in rejected]
    assert "larger than the bound" in reasons[0]
    assert "outside the hard limits" in reasons[1]
    assert "on probation" in reasons[2] or "cooling down" in reasons[2]
    assert learner.value("kitchen", END_OF_SPEECH) == current + 100


@pytest.mark.slow  # hundreds of simulated turns per room
def test_wake_threshold_rises_where_the_tv_wakes_it_and_falls_where_people_repeat_themselves() -> None:
    watch = Watch()
    learner = watch.learner()
    tv_room = Household("living-room", tv_false_wake=0.6, tv_scores=(0.3, 0.9))
    soft = Household("bedroom", user_wake_scores=(0.4, 0.95))
    sim = Simulation(learner, [tv_room, soft])
    sim.run(400)

    spec = PARAMETERS[WAKE_THRESHOLD]
    assert 0.7 <= learner.value("living-room", WAKE_THRESHOLD) <= spec.high
    assert spec.low <= learner.value("bedroom", WAKE_THRESHOLD) <= 0.5
    assert all(spec.low <= v <= spec.high for _, p, v in watch.changes if p == WAKE_THRESHOLD)
    assert sum(sim.false_wakes["living-room"][-100:]) < sum(sim.false_wakes["living-room"][:100])


def test_response_style_bandit_learns_what_a_room_likes() -> None:
    learner = Learner()
    likes_brief = Household("kitchen", follow_up={"brief": 0.7, "normal": 0.3, "detailed": 0.1},
                            interrupt={"brief": 0.0, "normal": 0.1, "detailed": 0.5})
    sim = Simulation(learner, [likes_brief])
    sim.run(300)
    last = sim.styles["kitchen"][-100:]
    assert last.count("brief") >= 70, {s: last.count(s) for s in set(last)}


def test_commands_freeze_reset_roll_back_and_switch_learning_off() -> None:
    watch = Watch()
    learner = watch.learner()
    sim = Simulation(learner, [PAUSER])
    sim.run(60)
    learned = learner.value("study", END_OF_SPEECH)
    assert learned > 700

    learner.command("freeze", "study", END_OF_SPEECH)
    before = learner.value("study", END_OF_SPEECH)
    sim.run(100)
    assert learner.value("study", END_OF_SPEECH) == before

    learner.command("unfreeze", "study")
    last_update = watch.actions(LearningAction.UPDATE, "study")[-1]
    (rolled,) = learner.command("rollback", "study", END_OF_SPEECH)
    assert rolled.action is LearningAction.ROLLBACK and rolled.old_value == before
    assert learner.value("study", END_OF_SPEECH) == rolled.new_value == last_update.old_value

    learner.command("reset", "study")
    assert learner.value("study", END_OF_SPEECH) == PARAMETERS[END_OF_SPEECH].default
    assert ("study", END_OF_SPEECH, PARAMETERS[END_OF_SPEECH].default) in watch.changes[-2:]

    learner.command("disable")
    sim.run(60)
    assert learner.value("study", END_OF_SPEECH) == PARAMETERS[END_OF_SPEECH].default
    assert learner.style_for("study-sat", "study") == "normal"
    assert watch.actions(LearningAction.DISABLE)

    try:
        learner.command("rollback", "nowhere")
    except LearningCommandError as err:
        assert err.code == "unknown_room"
    else:
        raise AssertionError("a command for an unknown room must fail")


def test_learning_state_survives_a_restart(tmp_path) -> None:
    store = Store(tmp_path / "hub.sqlite")
    learner = Learner(on_state=lambda s: store.put_json("learning", s))
    sim = Simulation(learner, [PAUSER, TERSE])
    sim.run(80)
    learned = learner.values("study"), learner.values("kitchen")
    store.close()

    reopened = Store(tmp_path / "hub.sqlite")
    again = Learner(state=reopened.get_json("learning"))
    assert (again.values("study"), again.values("kitchen")) == learned
    assert again.bandit.posteriors == learner.bandit.posteriors


def test_room_preference_learns_which_room_people_meant_and_arbitration_uses_it() -> None:
    from hub.conversation.arbitration import Arbiter, WakeClaim
    from hub.conversation.event_data import ArbitrationLost, TurnEnded, TurnStarted, Wake
    from hub.conversation.events import ConversationEvent
    from hub.learning.learner import PREFERENCE_LIMIT
    from protocol.payloads import TurnOutcome

    watch = Watch()
    learner = watch.learner()
    wake = Wake(wake_word="hey_jarvis")
    t = 100.0
    for n in range(12):
        # The hall's satellite heard the wake a bit better, the kitchen stood down; the person,
        # who was in the kitchen, says the wake word again there a few seconds later.
        learner(ConversationEvent("hall", TurnStarted(room="Hall", wake=wake, listen=True), t=t, wall=t,
                                  turn_id=f"h{n}"))
        learner(ConversationEvent("kitchen", ArbitrationLost(wake=wake), t=t, wall=t))
        learner(ConversationEvent("hall", TurnEnded(outcome=TurnOutcome.TIMEOUT), t=t + 2, wall=t + 2,
                                  turn_id=f"h{n}"))
        learner(ConversationEvent("kitchen", TurnStarted(room="Kitchen", wake=wake, listen=True), t=t + 4,
                                  wall=t + 4, turn_id=f"k{n}"))
        learner(ConversationEvent("kitchen", TurnEnded(outcome=TurnOutcome.DONE), t=t + 6, wall=t + 6,
                                  turn_id=f"k{n}"))
        t += 60
    assert learner.room_preference("kitchen") == PREFERENCE_LIMIT
    assert learner.room_preference("hall") == -PREFERENCE_LIMIT
    updates = [d for d in watch.decisions if d.parameter == "room_preference"]
    assert updates and "woken again" in updates[0].reason
    assert all(abs(float(d.new_value or 0)) <= PREFERENCE_LIMIT for d in updates)

    arbiter = Arbiter(200, preference=learner.room_preference)
    hall, kitchen = WakeClaim("hall", 0.95, -30.0), WakeClaim("kitchen", 0.9, -31.0)
    assert arbiter.rank(kitchen) > arbiter.rank(hall)  # a near tie now goes to the room people mean
    assert Arbiter(200).rank(hall) > Arbiter(200).rank(kitchen)
    loud = WakeClaim("hall", 0.99, -15.0)
    assert arbiter.rank(loud) > arbiter.rank(kitchen)  # bounded: a clearly better wake still wins
