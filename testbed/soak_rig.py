"""Many simulated satellites on one hub: rounds of turns and MQTT commands, and what the process holds after each.

Shared by ``tests/test_soak.py`` (a few rounds, bounds asserted) and ``bench/soak.py`` (minutes, figures
recorded): the loop is the same, so the benchmark measures what the test guards.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import psutil

from common.local_broker import MosquittoBroker
from common.mqtt import MqttLink
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.event_data import TurnEnded
from hub.conversation.events import ConversationEvent, EventKind
from protocol.commands import TimerCancelCommand, TimerStartCommand
from protocol.payloads import CommandResult, ResultStatus
from protocol.topics import Topics
from testbed.simsat import SimSatellite

SATELLITES = 50
TALKERS = 4
"""Rooms that speak at once in each round (STT is the bottleneck on 2 cores)."""
COMMAND_ROUND_S = 30.0
"""How long one command to every satellite may take to come back ``done`` (seconds)."""


@dataclass(frozen=True)
class Snapshot:
    """What the process holds at an idle moment."""

    tasks: int
    fds: int
    rss_mb: float


def snapshot() -> Snapshot:
    gc.collect()
    process = psutil.Process()
    return Snapshot(len(asyncio.all_tasks()), process.num_fds(), process.memory_info().rss / 2**20)


@contextlib.asynccontextmanager
async def home_assistant(broker: MosquittoBroker) -> AsyncIterator[MqttLink]:
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


async def command_everyone(ha: MqttLink, results: list[Any], satellites: list[SimSatellite],
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
        while not finished():  # noqa: ASYNC110 - results arrive on the broker; nothing to await on our side
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), COMMAND_ROUND_S)
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
    reports = [e.data for e in ended if isinstance(e.data, TurnEnded)]
    assert {r.handler for r in reports} == {"time"}, reports
    assert {r.outcome for r in reports} == {"done"}
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
            await recorder.wait_for(functools.partial(_grown, recorder, seen), timeout)

    await asyncio.wait_for(collect(), timeout)
    return list(found.values())


def _grown(recorder: EventRecorder, seen: int, event: ConversationEvent) -> bool:
    return len(recorder.events) > seen
