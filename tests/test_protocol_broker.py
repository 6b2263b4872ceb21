"""A message published through a real broker by one side is parsed by the other."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import pytest

from common.mqtt import MqttLink
from protocol import commands, payloads
from protocol.topics import SatelliteTopic
from testbed.broker import REPO, MosquittoBroker


@contextlib.asynccontextmanager
async def running(link: MqttLink) -> AsyncIterator[MqttLink]:
    task = asyncio.create_task(link.run(), name=f"test-link-{link.client_id}")
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_satellite_state_reaches_the_hub_typed(broker: MosquittoBroker) -> None:
    hub = MqttLink(broker.settings("hub"), "hub")
    received: asyncio.Queue[object] = asyncio.Queue()

    async def on_state(topic: str, message: object) -> None:
        await received.put((topic, message))

    hub.subscribe(hub.topics.all_satellites(SatelliteTopic.STATE), on_state)
    sat = MqttLink(broker.settings("kitchen"), "kitchen",
                   availability_topic=broker_topics(broker).satellite("kitchen", SatelliteTopic.AVAILABILITY))
    async with running(hub), running(sat):
        state = payloads.SatelliteState(satellite="kitchen", phase=payloads.SatellitePhase.IDLE, muted=True, volume=30)
        sat.publish(sat.topics.satellite("kitchen", SatelliteTopic.STATE), state, retain=True)
        topic, message = await asyncio.wait_for(received.get(), 10)
    assert topic.endswith("/satellite/kitchen/state")
    assert message == state


async def test_command_from_hub_is_parsed_by_the_satellite(broker: MosquittoBroker) -> None:
    sat = MqttLink(broker.settings("kitchen"), "kitchen")
    received: asyncio.Queue[object] = asyncio.Queue()

    async def on_command(topic: str, message: object) -> None:
        await received.put(message)

    sat.subscribe(sat.topics.command("kitchen"), on_command)
    hub = MqttLink(broker.settings("hub"), "hub")
    async with running(sat), running(hub):
        command = commands.VolumeCommand(command="volume", volume=55, sender="hub")
        hub.publish(hub.topics.command("kitchen"), command)
        message = await asyncio.wait_for(received.get(), 10)
    assert message == command


async def test_bad_payload_is_counted_and_the_link_keeps_working(broker: MosquittoBroker) -> None:
    sat = MqttLink(broker.settings("kitchen"), "kitchen")
    received: asyncio.Queue[object] = asyncio.Queue()

    async def on_command(topic: str, message: object) -> None:
        await received.put(message)

    sat.subscribe(sat.topics.command("kitchen"), on_command)
    hub = MqttLink(broker.settings("hub"), "hub")
    async with running(sat), running(hub):
        hub.publish_bytes(hub.topics.command("kitchen"), b'{"command":"volume","volume":"loud"}')
        hub.publish(hub.topics.command("kitchen"), commands.StopCommand(command="stop"))
        message = await asyncio.wait_for(received.get(), 10)
    assert isinstance(message, commands.StopCommand)
    assert sat.stats.rejected_payloads == 1


async def test_last_will_marks_a_killed_satellite_offline(broker: MosquittoBroker) -> None:
    topics = broker_topics(broker)
    availability = topics.satellite("kitchen", SatelliteTopic.AVAILABILITY)
    seen: list[payloads.Availability] = []
    online, offline = asyncio.Event(), asyncio.Event()

    async def on_availability(topic: str, message: payloads.Availability) -> None:
        seen.append(message)
        (online if message is payloads.Availability.ONLINE else offline).set()

    watcher = MqttLink(broker.settings("monitor"), "monitor")
    watcher.subscribe(availability, on_availability)
    settings = broker.settings("kitchen", keepalive_s=5).model_dump_json()
    # A real process, killed with SIGKILL: no DISCONNECT is sent, as after a crash or power cut.
    script = (
        "import asyncio, sys\n"
        "from common.mqtt import MqttLink, MqttSettings\n"
        f"link = MqttLink(MqttSettings.model_validate_json({settings!r}), 'kitchen', availability_topic={availability!r})\n"
        "asyncio.run(link.run())\n"
    )
    async with running(watcher):
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=str(REPO))
        try:
            await asyncio.wait_for(online.wait(), 15)
        finally:
            proc.kill()
            await proc.wait()
        await asyncio.wait_for(offline.wait(), 20)
    assert seen[-1] is payloads.Availability.OFFLINE


def broker_topics(broker: MosquittoBroker):
    from protocol.topics import Topics

    return Topics(broker.root)


@pytest.mark.parametrize("user", ["kitchen"])
async def test_wrong_password_is_refused(broker: MosquittoBroker, user: str) -> None:
    import aiomqtt

    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", broker.port, username=user, password="wrong", timeout=5):
            pass


async def test_a_graceful_stop_publishes_offline_before_disconnecting(broker: MosquittoBroker) -> None:
    """SIGTERM / systemctl stop cancel the link's task: unlike a crash, that fires no last will."""
    availability = broker_topics(broker).satellite("kitchen", SatelliteTopic.AVAILABILITY)
    seen: list[payloads.Availability] = []
    online, offline = asyncio.Event(), asyncio.Event()

    async def on_availability(topic: str, message: payloads.Availability) -> None:
        seen.append(message)
        (online if message is payloads.Availability.ONLINE else offline).set()

    watcher = MqttLink(broker.settings("monitor"), "monitor")
    watcher.subscribe(availability, on_availability)
    async with running(watcher):
        async with MqttLink(broker.settings("kitchen"), "kitchen", availability_topic=availability).running():
            await asyncio.wait_for(online.wait(), 10)
        await asyncio.wait_for(offline.wait(), 5)
    assert seen[-1] is payloads.Availability.OFFLINE


async def test_only_the_newest_queued_value_of_a_retained_topic_is_sent(broker: MosquittoBroker) -> None:
    topic = broker_topics(broker).satellite("kitchen", SatelliteTopic.STATE)
    volumes: list[int] = []

    async def on_state(topic: str, message: payloads.SatelliteState) -> None:
        volumes.append(message.volume)

    watcher = MqttLink(broker.settings("monitor"), "monitor")
    watcher.subscribe(topic, on_state)
    sat = MqttLink(broker.settings("kitchen"), "kitchen")
    async with running(watcher), running(sat):
        for volume in range(101):  # a burst of state changes, all queued before the link can send one
            sat.publish(topic, payloads.SatelliteState(satellite="kitchen", phase=payloads.SatellitePhase.IDLE,
                                                       muted=False, volume=volume), retain=True)
        assert await sat.flush(10)
        for _ in range(100):
            if volumes and volumes[-1] == 100:
                break
            await asyncio.sleep(0.05)
    assert volumes == [100]  # one store write at the broker instead of 101
