"""A short soak: fifty satellites on one hub, turns and MQTT commands, nothing lost, nothing leaked.

Fifty scripted Wyoming satellites (real TCP) connect to one hub with the real models and a real
Mosquitto. A few rooms ask the time at once; every room gets a ``timer_start`` and then a
``timer_cancel`` command from Home Assistant's account, and each command must get its
``accepted`` and ``done`` results on ``hub/result`` and its Wyoming timer event at the satellite.
Two such rounds: the second must leave the hub with the same tasks and file descriptors as the
first, and memory within a bound. Then the satellites go away, and finally the hub: every socket
and task it opened is gone again.

``bench/soak.py`` runs the same loop (``testbed/soak_rig.py``) for minutes and records the figures.
"""

from __future__ import annotations

import pytest
from wyoming.timer import TimerCancelled, TimerStarted

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from protocol.commands import TimerCancelCommand, TimerStartCommand
from protocol.topics import HubTopic, Topics
from testbed.hub_rig import running_hub, watching
from testbed.simsat import SimSatellite
from testbed.soak_rig import (
    SATELLITES,
    TALKERS,
    Snapshot,
    command_everyone,
    each_satellite,
    forget,
    home_assistant,
    snapshot,
    talk,
)

pytestmark = pytest.mark.timeout(180)

ROUNDS = 3
RSS_GROWTH_BOUND_MB = 20.0
"""Allowed RSS growth from round 2 to the last round (round 1 warms the models' and allocator's pools)."""
FD_SLACK = 2
"""File descriptors that may come and go between two idle moments (e.g. a reconnecting MQTT socket)."""


async def test_fifty_satellites_soak_loses_no_command_and_leaks_nothing(broker, hub_models, speech, tmp_path):
    pcm = speech("What time is it?")
    before = snapshot()
    satellites = [SimSatellite(f"room-{i:02d}") for i in range(SATELLITES)]
    for satellite in satellites:
        await satellite.start()
    hub_results_topic = Topics().hub(HubTopic.RESULT)
    # Rooms are independent here (arbitration between rooms has its own test): no arbitration window.
    async with watching(broker, hub_results_topic) as results, home_assistant(broker) as ha, \
            running_hub(broker, hub_models, satellites, tmp_path, arbitration_window_ms=0) as hub:
        recorder = EventRecorder(hub.bus)
        assert sorted(s.id for s in hub.sessions.values() if s.connected) == [s.name for s in satellites]
        rounds: list[Snapshot] = []
        for index in range(ROUNDS):
            talkers = satellites[index * TALKERS:(index + 1) * TALKERS]
            await talk(hub, recorder, talkers, pcm)
            await command_everyone(ha, results, satellites,
                                   lambda: TimerStartCommand(command="timer_start", seconds=600, name="soak"),
                                   TimerStarted.is_type)
            await command_everyone(ha, results, satellites,
                                   lambda: TimerCancelCommand(command="timer_cancel"),
                                   TimerCancelled.is_type)
            assert all(not hub.timers.running(s.name) for s in satellites)
            forget(satellites)
            results.clear()
            await hub.link.flush(10)  # publishes still in flight are tasks (MqttLink sends 32 at once)
            rounds.append(snapshot())

        since = len(recorder.events)
        for satellite in satellites:
            await satellite.close()
        await each_satellite(recorder, EventKind.SATELLITE_DISCONNECTED, {s.name for s in satellites}, since, 30)
        assert hub.metrics().satellites_connected == 0
        assert not any(s.busy for s in hub.sessions.values())
        await hub.link.flush(10)
        gone = snapshot()
    after = snapshot()

    first, last = rounds[0], rounds[-1]
    print(f"soak: before {before}, rounds {rounds}, satellites gone {gone}, after {after}")
    # Idle with fifty rooms connected, after more rounds of turns and 100 commands each: nothing piled up.
    assert {r.tasks for r in rounds} == {first.tasks}
    assert max(r.fds for r in rounds) - min(r.fds for r in rounds) <= FD_SLACK
    assert last.rss_mb - rounds[1].rss_mb < RSS_GROWTH_BOUND_MB
    # Every satellite connection was closed on the hub's side too (two sockets and a listener each),
    # and its tasks ended (the simulator's connection task and the hub's pinger).
    assert gone.fds <= first.fds - 2 * SATELLITES + FD_SLACK
    assert gone.tasks <= first.tasks - 2 * SATELLITES
    # The hub closed: back to where the test started.
    assert after.tasks == before.tasks
    assert after.fds <= before.fds + FD_SLACK
