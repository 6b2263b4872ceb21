"""Every MQTT payload model round-trips, and malformed payloads are refused with a clear reason."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from protocol import codec, commands, payloads
from protocol.topics import ConversationTopic, HubTopic, SatelliteTopic, Topics

TOPICS = Topics()

SAMPLES: dict[str, tuple[str, BaseModel | payloads.Availability]] = {
    "announce": (
        TOPICS.satellite("kitchen", SatelliteTopic.ANNOUNCE),
        payloads.SatelliteAnnounce(
            satellite="kitchen", name="Kitchen", area="Kitchen", wyoming_uri="tcp://10.0.0.5:10700",
            software="hearth-satellite 0.1.0", wake_words=["hey_jarvis"], capabilities=["aec", "barge-in"],
        ),
    ),
    "availability": (TOPICS.satellite("kitchen", SatelliteTopic.AVAILABILITY), payloads.Availability.ONLINE),
    "sat-state": (
        TOPICS.satellite("kitchen", SatelliteTopic.STATE),
        payloads.SatelliteState(satellite="kitchen", phase=payloads.SatellitePhase.PLAYING, muted=False, volume=70),
    ),
    "wake": (
        TOPICS.satellite("kitchen", SatelliteTopic.WAKE),
        payloads.WakeDetection(satellite="kitchen", detection_id="d1", wake_word="hey_jarvis", score=0.97, level_dbfs=-23.5),
    ),
    "interrupt": (
        TOPICS.satellite("kitchen", SatelliteTopic.INTERRUPT),
        payloads.Interrupt(satellite="kitchen", reason=payloads.InterruptReason.WAKE_WORD, turn_id="t1"),
    ),
    "sat-metrics": (
        TOPICS.satellite("kitchen", SatelliteTopic.METRICS),
        payloads.SatelliteMetrics(
            satellite="kitchen", cpu_percent=4.5, rss_mb=120.0, temperature_c=51.2, frames_dropped=0,
            wake_count=3, false_wake_count=1, uptime_s=3600.0,
        ),
    ),
    "sat-result": (
        TOPICS.satellite("kitchen", SatelliteTopic.RESULT),
        payloads.CommandResult(id="c1", command="mute", target="kitchen", handled_by="kitchen",
                               status=payloads.ResultStatus.DONE),
    ),
    "conv-state": (
        TOPICS.conversation("kitchen", ConversationTopic.STATE),
        payloads.ConversationState(satellite="kitchen", phase=payloads.ConversationPhase.THINKING, turn_id="t1", since=1.0),
    ),
    "turn": (
        TOPICS.conversation("kitchen", ConversationTopic.TURN),
        payloads.TurnReport(
            satellite="kitchen", turn_id="t1", transcript="what time is it", response="It's 3 PM.", handler="time",
            outcome=payloads.TurnOutcome.DONE,
            timings=payloads.TurnTimings(endpointing_ms=300.0, transcript_ms=900.0, first_audio_ms=1200.0),
        ),
    ),
    "hub-availability": (TOPICS.hub(HubTopic.AVAILABILITY), payloads.Availability.OFFLINE),
    "one-hub-availability": (TOPICS.hub_availability("hub-b"), payloads.Availability.ONLINE),
    "owner": (TOPICS.conversation("kitchen", ConversationTopic.OWNER),
              payloads.SatelliteOwner(satellite="kitchen", hub="hub-b", since=1764500000.0)),
    "hub-state": (
        TOPICS.hub(HubTopic.STATE),
        payloads.HubState(
            status="ready", software="hearth-hub 0.1.0", satellites=["kitchen"],
            models=[payloads.ModelStatus(kind="stt", name="tiny.en", status="loaded")],
        ),
    ),
    "hub-metrics": (
        TOPICS.hub(HubTopic.METRICS),
        payloads.HubMetrics(stt_queue_depth=0, active_turns=1, satellites_connected=2, turns_total=10,
                            rss_mb=900.0, cpu_percent=35.0),
    ),
    "arbitration": (
        TOPICS.hub(HubTopic.ARBITRATION),
        payloads.ArbitrationDecision(
            window_ms=200.0, winner="kitchen",
            candidates=[payloads.ArbitrationCandidate(satellite="kitchen", score=0.9, level_dbfs=-20.0, preference=0.0, rank=1.2)],
        ),
    ),
    "learning": (
        TOPICS.hub(HubTopic.LEARNING),
        payloads.LearningDecision(room="kitchen", parameter="end_of_speech_silence_ms", action=payloads.LearningAction.UPDATE,
                                  old_value=800.0, new_value=750.0, reason="short commands", evidence={"turns": 20}),
    ),
    "hub-command": (
        TOPICS.hub(HubTopic.COMMAND),
        commands.LearningCommand(command="learning", action="freeze", room="kitchen"),
    ),
    "hub-result": (
        TOPICS.hub(HubTopic.RESULT),
        payloads.CommandResult(id="c2", command="learning", target="hub", handled_by="hub",
                               status=payloads.ResultStatus.ERROR, code="unknown_room", message="no room 'attic'"),
    ),
    "cmd-stop": (TOPICS.command("kitchen"), commands.StopCommand(command="stop")),
    "cmd-mute": (TOPICS.command("kitchen"), commands.MuteCommand(command="mute", muted=True)),
    "cmd-volume": (TOPICS.command("kitchen"), commands.VolumeCommand(command="volume", volume=40)),
    "cmd-announce": (TOPICS.command("all"), commands.AnnounceCommand(command="announce", text="Dinner is ready")),
    "cmd-start": (TOPICS.command("kitchen"), commands.StartConversationCommand(command="start_conversation")),
    "cmd-timer": (TOPICS.command("kitchen"), commands.TimerStartCommand(command="timer_start", seconds=120, name="tea")),
    "cmd-timer-cancel": (TOPICS.command("kitchen"), commands.TimerCancelCommand(command="timer_cancel")),
    "cmd-tune": (TOPICS.command("kitchen"), commands.TuneCommand(command="tune", wake_threshold=0.6)),
    "cmd-driver": (TOPICS.command("kitchen"), commands.DriverCommand(command="driver", driver="home_assistant")),
    "cmd-take-over": (TOPICS.command("kitchen"), commands.TakeOverCommand(command="take_over", sender="hub-hub")),
    "cmd-wake-word": (TOPICS.command("kitchen"), commands.WakeWordCommand(command="wake_word", wake_word="alexa")),
    "link": (
        TOPICS.conversation("kitchen", ConversationTopic.LINK),
        payloads.SatelliteLink(satellite="kitchen", driver=payloads.SatelliteDriver.HUB, connected=True),
    ),
    "announcement": (
        TOPICS.conversation("kitchen", ConversationTopic.ANNOUNCEMENT),
        payloads.TurnReport(satellite="kitchen", turn_id="t2", transcript="", response="Dinner is ready.",
                            handler="announce", outcome=payloads.TurnOutcome.DONE,
                            timings=payloads.TurnTimings(first_audio_ms=180.0)),
    ),
}


def _all_payload_classes() -> set[type]:
    found: set[type] = set()
    for module in (payloads, commands):
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, payloads.Payload)
                    and value is not payloads.Payload and not value.__name__.startswith("_")):
                found.add(value)
    return found


def test_every_payload_model_has_a_sample() -> None:
    sampled = {type(message) for _, message in SAMPLES.values()}
    assert _all_payload_classes() - sampled == set()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_payload_round_trips_through_its_topic(name: str) -> None:
    topic, message = SAMPLES[name]
    decoded = codec.decode(TOPICS, topic, codec.encode(message))
    assert decoded == message


@pytest.mark.parametrize("name", sorted(n for n, (_, m) in SAMPLES.items() if isinstance(m, BaseModel)))
def test_unknown_field_is_rejected(name: str) -> None:
    topic, message = SAMPLES[name]
    raw = json.loads(codec.encode(message))
    raw["surprise"] = 1
    with pytest.raises(codec.PayloadError) as err:
        codec.decode(TOPICS, topic, json.dumps(raw))
    assert "surprise" in str(err.value)


@pytest.mark.parametrize(
    ("topic", "raw", "needle"),
    [
        (TOPICS.satellite("kitchen", SatelliteTopic.STATE), b'{"satellite":"kitchen","phase":"dancing","muted":false,"volume":5}', "phase"),
        (TOPICS.satellite("kitchen", SatelliteTopic.STATE), b'{"satellite":"kitchen","phase":"idle","muted":"no","volume":5}', "muted"),
        (TOPICS.satellite("kitchen", SatelliteTopic.STATE), b'{"satellite":"kitchen","phase":"idle","muted":false,"volume":101}', "volume"),
        (TOPICS.satellite("kitchen", SatelliteTopic.WAKE), b'{"satellite":"kitchen","detection_id":"d","wake_word":"x","score":1.5,"level_dbfs":-3}', "score"),
        (TOPICS.command("kitchen"), b'{"command":"selfdestruct"}', "command"),
        (TOPICS.command("kitchen"), b'{"command":"volume","volume":"40"}', "volume"),
        (TOPICS.command("kitchen"), b'{"command":"volume"}', "volume"),
        (TOPICS.command("kitchen"), b"not json", "JSON"),
        (TOPICS.command("kitchen"), b"[1,2]", "object"),
        (TOPICS.satellite("kitchen", SatelliteTopic.AVAILABILITY), b"maybe", "online"),
        (TOPICS.command("kitchen"), b"\xff\xfe", "UTF-8"),
    ],
)
def test_malformed_payload_names_the_problem(topic: str, raw: bytes, needle: str) -> None:
    with pytest.raises(codec.PayloadError) as err:
        codec.decode(TOPICS, topic, raw)
    assert needle.lower() in str(err.value).lower()


def test_oversized_payload_is_refused_unread() -> None:
    with pytest.raises(codec.PayloadError) as err:
        codec.decode(TOPICS, TOPICS.command("kitchen"), b"{" + b" " * codec.MAX_PAYLOAD_BYTES + b"}")
    assert err.value.code == "too_large"


def test_command_without_id_gets_one_so_its_result_can_be_matched() -> None:
    first = codec.decode(TOPICS, TOPICS.command("kitchen"), b'{"command":"stop"}')
    second = codec.decode(TOPICS, TOPICS.command("kitchen"), b'{"command":"stop"}')
    assert first.id and second.id and first.id != second.id


def test_payload_on_a_topic_outside_the_tree_is_refused() -> None:
    with pytest.raises(codec.PayloadError) as err:
        codec.decode(TOPICS, "voice/v1/satellite/kitchen/secrets", b"{}")
    assert err.value.code == "unknown_topic"
