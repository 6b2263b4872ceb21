"""Long-term memory: facts with provenance and a time to live, replaced not duplicated, safe from kill -9."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hub.learning.learner import Learner
from hub.storage.memory import Memory, extract_fact
from hub.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_statements_become_facts_and_questions_do_not() -> None:
    assert extract_fact("My name is Sam.") == ("my name", "Sam", "the user's name is Sam")
    assert extract_fact("The kids' bedtime is 8") == ("kids' bedtime", "8", "kids' bedtime is 8")
    assert extract_fact("remember that bin day is Monday") == ("bin day", "Monday", "bin day is Monday")
    for not_a_fact in ("What is my name?", "is my name Sam", "turn on the kitchen light", "The weather is nice"):
        assert extract_fact(not_a_fact) is None, not_a_fact


def test_a_newer_fact_replaces_the_older_one_and_says_so(tmp_path, caplog) -> None:
    memory = Memory(Store(tmp_path / "hub.sqlite"))
    memory.learn_from("My name is Sam", satellite="kitchen-sat", room="Kitchen", turn_id="a-1")
    memory.learn_from("my name is Sam.", satellite="study-sat", room="Study", turn_id="b-1")  # the same again
    assert [f.statement for f in memory.facts()] == ["the user's name is Sam"]
    assert len(memory.history("my name")) == 1

    with caplog.at_level(logging.INFO, logger="hub.storage.memory"):
        change = memory.learn_from("my name is Alex", satellite="study-sat", room="Study", turn_id="b-2")
    assert change is not None and change.replaced is not None and change.replaced.value == "Sam"
    assert memory.statements() == ("the user's name is Alex",)
    old, new = memory.history("my name")
    assert (old.value, old.room, old.turn_id) == ("Sam", "Kitchen", "a-1")
    assert (new.value, new.room, new.satellite, new.turn_id) == ("Alex", "Study", "study-sat", "b-2")
    assert any("replaced" in r.message and "Sam" in r.message for r in caplog.records)


def test_facts_expire_after_their_time_to_live(tmp_path) -> None:
    now = [1000.0]
    memory = Memory(Store(tmp_path / "hub.sqlite"), fact_ttl_s=60, clock=lambda: now[0])
    memory.learn_from("the kids' bedtime is 8", satellite="s", room="Hall", turn_id="t1")
    now[0] += 59
    assert memory.statements() == ("kids' bedtime is 8",)
    now[0] += 2
    assert memory.statements() == ()


def test_conversation_context_keeps_the_last_turns_per_satellite(tmp_path) -> None:
    memory = Memory(Store(tmp_path / "hub.sqlite"), context_turns=2)
    for i in range(5):
        memory.remember_turn("kitchen", f"question {i}", f"answer {i}")
    memory.remember_turn("study", "hello", "hi")
    assert memory.context("kitchen") == [("question 3", "answer 3"), ("question 4", "answer 4")]
    assert memory.context("study") == [("hello", "hi")]


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from hub.storage.memory import Memory
    from hub.storage.store import Store
    store = Store(Path(sys.argv[1]))
    memory = Memory(store)
    i = 0
    while True:
        i += 1
        memory.learn_from(f"my item {i} is value {i}", satellite="s", room="Lab", turn_id=str(i))
        memory.learn_from(f"my counter is {i}", satellite="s", room="Lab", turn_id=str(i))
        store.put_json("learning", {"written": i, "padding": "x" * 5000})
        if i == 20:
            print("ready", flush=True)
""")


def test_memory_and_learning_state_survive_kill_9_mid_write(tmp_path) -> None:
    db = tmp_path / "hub.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # it is writing as fast as it can
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)

    store = Store(db)
    assert store.integrity_ok()
    state = store.get_json("learning")
    memory = Memory(store)
    counters = memory.history("my counter")
    written = int(counters[-1].value)
    assert len(counters) == written and all(int(c.value) == n for n, c in enumerate(counters, 1))
    # Each write is all or nothing, in order: item i, counter i, learning state i, item i+1, ...
    newest_item = max(int(f.key.split()[-1]) for f in memory.facts() if f.key.startswith("my item"))
    assert newest_item in (written, written + 1)
    assert state is not None and state["written"] in (written - 1, written)
    json.dumps(state)


def test_learner_restores_from_a_store_written_by_another_process(tmp_path) -> None:
    store = Store(tmp_path / "hub.sqlite")
    learner = Learner()
    learner.command("disable")
    store.put_json("learning", learner.state())
    store.close()
    assert Learner(state=Store(tmp_path / "hub.sqlite").get_json("learning")).enabled is False


def test_recorder_keeps_audio_under_its_cap_and_old_sessions_are_pruned(tmp_path) -> None:
    import wave

    from hub.conversation.event_data import TurnStarted
    from hub.conversation.events import ConversationEvent
    from hub.storage.recorder import SessionRecorder

    second = bytes(32000)
    for _ in range(3):
        SessionRecorder(tmp_path, dict, keep_sessions=2).close()
    assert len(list(tmp_path.glob("*.jsonl"))) == 2  # the oldest was deleted

    recorder = SessionRecorder(tmp_path, lambda: {"enabled": True}, audio=True, max_audio_bytes=3 * len(second))
    recorder(ConversationEvent("hall", TurnStarted(room="Hall", listen=True), turn_id="t1"))
    kept = recorder.turn_audio("hall", "t1", second * 2)
    assert kept is not None and recorder.turn_audio("hall", "t2", second * 2) is None  # over the cap
    recorder.close()
    with wave.open(str(kept)) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (16000, 32000)
    lines = [json.loads(line) for line in recorder.path.read_text().splitlines()]
    assert lines[0]["type"] == "session" and lines[0]["learning"] == {"enabled": True}
    assert [line["type"] for line in lines[1:]] == ["event", "audio"]
