"""hearth-monitor shows a person every room, from retained MQTT state, with read-only credentials."""

from __future__ import annotations

import asyncio
import sys

from common.local_broker import REPO
from common.mqtt import MqttLink
from protocol.payloads import ConversationPhase, ConversationState, TurnOutcome, TurnReport, TurnTimings
from protocol.topics import ConversationTopic


async def test_monitor_prints_rooms_from_retained_state(broker, tmp_path):
    async with MqttLink(broker.settings("hub"), "test-hub").running() as hub:
        t = hub.topics
        hub.publish(t.conversation("kitchen", ConversationTopic.STATE),
                    ConversationState(satellite="kitchen", phase=ConversationPhase.SPEAKING, since=0.0), retain=True)
        hub.publish(t.conversation("kitchen", ConversationTopic.TURN), TurnReport(
            satellite="kitchen", turn_id="t1", transcript="what time is it", response="It's 5 PM.", handler="time",
            outcome=TurnOutcome.DONE, timings=TurnTimings(first_audio_ms=812.0)), retain=True)
        await hub.flush(5)

    password = tmp_path / "monitor-password"
    password.write_text(broker.passwords["monitor"] + "\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.monitor", "--once", "--mqtt-port", str(broker.port),
        "--mqtt-username", "monitor", "--mqtt-password-file", str(password), cwd=str(REPO),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={"COLUMNS": "200", "PATH": ""})
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 0, text
    assert "kitchen" in text and "speaking" in text and "what time is it" in text and "812 ms" in text
