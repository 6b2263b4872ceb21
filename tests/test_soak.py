"""A short soak: fifty satellites on one hub, turns and MQTT commands, nothing lost, nothing leaked.

Fifty scripted Wyoming satellites (real TCP) connect to one hub with the real models and a real
Mosquitto. A few rooms ask the time at once; every room gets a ``timer_start`` and then a
``timer_cancel`` command from Home Assistant's account, and each command must get its
``accepted`` and ``done`` results on ``hub/result`` and its Wyoming timer event at the satellite.
Two such rounds: the second must leave the hub with the same tasks and file descriptors as the
first, and memory within a bound. Then the satellites go away, and finally the hub: every socket
and task it opened is gone again.

``bench/soak.py`` runs the same loop for minutes and records the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import psutil
import pytest
from wyoming.timer import TimerCancelled, TimerStarted

from common.mqtt import MqttLink
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.events import ConversationEvent, EventKind
from protocol.commands import TimerCancelCommand, TimerStartCommand
from protocol.payloads import CommandResult, ResultStatus
from protocol.topics import HubTopic, Topics
from testbed.simsat import SimSatellite
from tests.test_hub_turns import running_hub, watching

pytestmark = pytest.mark.timeout(180)

SATELLITES = 50
TALKERS = 4
"""Rooms that speak at once in each round (STT is the bottleneck on 2 cores)."""
ROUNDS = 3
RSS_GROWTH_BOUND_MB = 20.0
"""Allowed RSS growth from round 2 to the last round (round 1 warms the models' and allocator's pools)."""
FD_SLACK = 2
"""File descriptors that may come and go between two idle moments (e.g. a reconnecting MQTT socket)."""


@dataclass(frozen=True)
class Snapshot:
    tasks: int
    fds: int
    rss_mb: float


def snapshot() -> Snapshot:
    gc.collect()
    process = psutil.Process()
    return Snapshot(len(asyncio.all_tasks()), process.num_fds(), process.memory_info().rss / 2**20)


@contextlib.asynccontextmanager
async def home_assistant(broker) -> AsyncIterator[MqttLink]:
    """Home Assistant's MQTT account, used to send commands."""
    async with MqttLink(broker.settings("homeassistant"), "test-home-assistant").running() as link:
        yield link


def forget(satellites: list[SimSatellite]) -> None:
    """Drop what the simulated satellites recorded, so the process's memory is the hub's to explain."""
    for satellite in satellites:
        satellite.received.clear()
        satellite.answers.clear()
        satellite.transcripts.clear()
        satellite.turn_ids.clear()


async def command_everyone(ha: MqttLink, results: list, satellites: list[SimSatellite],
                           make: Callable[[], TimerStartCommand | TimerCancelCommand],
                           arrived: Callable[[str], bool]) -> None:
    """One command per satellite; each must come back ``done`` and reach its satellite over Wyoming."""
    topics = Topics(ha.settings.root)
    seen_before = {s.name: sum(1 for e in s.received if arrived(e.type)) for s in satellites}
    sent: dict[str, str] = {}
    for satellite in satellites:
        command = make()
        sent[command.id] = satellite.name
        ha.publish(topics.command(satellite.name), command)

    def finished() -> bool:
        done = {r.id for r in results if isinstance(r, CommandResult) and r.status is ResultStatus.DONE}
        return done >= sent.keys()

    async def wait() -> None:
        while not finished():
            await asyncio.sleep(0.05)  # results arrive on the broker; nothing to await on our side

    await asyncio.wait_for(wait(), 30)
    mine = [r for r in results if isinstance(r, CommandResult) and r.id in sent]
    statuses = {command_id: sorted(r.status.value for r in mine if r.id == command_id) for command_id in sent}
    assert all(s == ["accepted", "done"] for s in statuses.values()), statuses
    assert {r.target for r in mine} == set(sent.values())
    for satellite in satellites:  # the hub's Wyoming event reached every room
        assert sum(1 for e in satellite.received if arrived(e.type)) == seen_before[satellite.name] + 1


async def talk(hub: Hub, recorder: EventRecorder, talkers: list[SimSatellite], pcm: bytes) -> None:
    """The talkers ask the time together; each gets its own answer."""
    since = len(recorder.events)
    await asyncio.gather(*(s.say(pcm) for s in talkers))
    ended = await each_satellite(recorder, EventKind.TURN_ENDED, {s.name for s in talkers}, since, 90)
    assert {e.data.handler for e in ended} == {"time"}, [e.data for e in ended]
    assert {e.data.outcome for e in ended} == {"done"}
    for session in hub.sessions.values():
        await session.wait_idle()


async def each_satellite(recorder: EventRecorder, kind: EventKind, names: set[str], since: int,
                         timeout: float) -> list[ConversationEvent]:
    """Wait until every satellite in ``names`` has had a ``kind`` event after index ``since``."""
    found: dict[str, ConversationEvent] = {}

    async def collect() -> None:
        seen = since
        while True:
            for event in recorder.events[seen:]:
                if event.kind is kind and event.satellite in names:
                    found[event.satellite] = event
            seen = len(recorder.events)
            if len(found) == len(names):
                return
            await recorder.wait_for(lambda e, seen=seen: len(recorder.events) > seen, timeout)

    await asyncio.wait_for(collect(), timeout)
    return list(found.values())


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
