"""The hub under faults: a satellite that vanishes mid-turn, and one that stops reading."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from testbed.hub_rig import running_hub
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(180)


async def test_satellite_killed_mid_turn_frees_its_session_and_comes_back(broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    port = kitchen.port
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        hub.services.style_for = lambda satellite, room: "detailed"
        await kitchen.say(speech("Tell me a story about a lighthouse."))
        await recorder.wait_for(lambda e: e.kind is EventKind.AUDIO_STARTED, 60)
        await kitchen.close()  # the satellite's process dies
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 10)
        cut = next(e for e in recorder.events if e.kind is EventKind.INTERRUPTED)
        await recorder.wait_for(lambda e: e.kind is EventKind.SATELLITE_DISCONNECTED, 10)
        session = hub.sessions["kitchen"]
        assert not session.connected and not session.busy
        assert hub.states.phase("kitchen").value == "idle"

        back = SimSatellite("kitchen")
        await back.start(port)
        await recorder.wait_for(
            lambda e: e.kind is EventKind.SATELLITE_CONNECTED and e.t > ended.t, 15)
        await back.say(speech("What time is it?"))
        second = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.t > ended.t, 60)
        await back.close()
    assert ended.data.outcome == "interrupted"  # whichever side noticed the lost socket first
    assert cut.data.reason == "satellite_lost"
    assert second.data.handler == "time"


async def test_a_satellite_that_stops_reading_does_not_slow_the_other_room(broker, hub_models, speech, tmp_path):
    stuck, kitchen = SimSatellite("stuck", read_answers=False), SimSatellite("kitchen")
    for satellite in (stuck, kitchen):
        await satellite.start()
    async with running_hub(broker, hub_models, [kitchen], tmp_path) as hub:
        hub.add_satellite(stuck.uri)
        link = hub._links[stuck.uri]
        await asyncio.wait_for(link.connected.wait(), 10)
        link.peer.max_backlog = 16 * 1024  # a few chunks: this peer's socket fills at once
        link.peer.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        recorder = EventRecorder(hub.bus)
        await hub.announce(["stuck"], "Dinner is ready. Please come to the kitchen. " * 4)
        await recorder.wait_for(lambda e: e.kind is EventKind.AUDIO_FINISHED and e.satellite == "stuck", 60)
        await kitchen.say(speech("What time is it?"))
        ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e.satellite == "kitchen", 60)
        dropped = hub.metrics().audio_dropped_total
    for satellite in (stuck, kitchen):
        await satellite.close()
    assert ended.data.outcome == "done" and ended.data.handler == "time"
    assert dropped > 0  # counted, and the hub's memory for that peer stayed bounded
