"""One utterance heard in two rooms is answered once, by the room that heard it best."""

from __future__ import annotations

import asyncio

import pytest

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from protocol.payloads import ArbitrationDecision
from testbed.audio_fixtures import scale
from testbed.hub_rig import running_hub, watching
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(180)


async def test_louder_room_answers_and_the_other_stands_down(broker, hub_models, speech, tmp_path):
    kitchen, hall = SimSatellite("kitchen"), SimSatellite("hall")
    for satellite in (kitchen, hall):
        await satellite.start()
    pcm = speech("What time is it?")
    async with watching(broker, "voice/v1/hub/arbitration") as decisions, \
            running_hub(broker, hub_models, [kitchen, hall], tmp_path, arbitration_window_ms=250) as hub:
        recorder = EventRecorder(hub.bus)
        # The same speech reaches both rooms; the hall hears it 15 dB quieter.
        await asyncio.gather(
            kitchen.say(pcm, score=0.9, level_dbfs=-20.0),
            hall.say(scale(pcm, -15), score=0.9, level_dbfs=-35.0),
        )
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        await asyncio.sleep(0.5)
        for _ in range(40):
            if decisions:
                break
            await asyncio.sleep(0.05)
    for satellite in (kitchen, hall):
        await satellite.close()
    assert ended.satellite == "kitchen" and ended.data.handler == "time"
    assert [e.satellite for e in recorder.events if e.kind is EventKind.TURN_STARTED] == ["kitchen"]
    assert [e.satellite for e in recorder.events if e.kind is EventKind.ARBITRATION_LOST] == ["hall"]
    assert kitchen.answers and not hall.answers
    assert hall.transcripts == [""]  # how the hall (even a stock satellite) is told to stop streaming
    decision = next(d for d in decisions if isinstance(d, ArbitrationDecision))
    assert decision.winner == "kitchen" and {c.satellite for c in decision.candidates} == {"kitchen", "hall"}
