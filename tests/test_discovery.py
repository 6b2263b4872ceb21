"""Home Assistant sees each satellite and the hub as devices, and rediscovers them after its own restart."""

from __future__ import annotations

import asyncio
import json

import pytest

from common.mqtt import MqttLink
from protocol import codec
from protocol.commands import MuteCommand, StopCommand, VolumeCommand
from protocol.discovery import discovery_topic, satellite_device
from protocol.topics import HA_STATUS_TOPIC, Topics
from tests.simsat import SimSatellite
from tests.test_hub_turns import running_hub

pytestmark = pytest.mark.timeout(120)


def test_home_assistant_command_payloads_are_accepted_by_our_strict_models():
    topics = Topics()
    config = satellite_device(topics, "kitchen", name="Kitchen", area="Kitchen", software="x", wake_words=["hey_jarvis"])
    cmps = config["cmps"]
    command_topic = topics.command("kitchen")
    assert isinstance(codec.decode(topics, command_topic, cmps["hearth_kitchen_stop"]["payload_press"]), StopCommand)
    muted = codec.decode(topics, command_topic, cmps["hearth_kitchen_mute"]["payload_on"])
    assert isinstance(muted, MuteCommand) and muted.muted is True
    # What Home Assistant renders from the number's command_template for value 35.
    rendered = cmps["hearth_kitchen_volume"]["command_template"].replace("{{ value | int }}", "35")
    volume = codec.decode(topics, command_topic, rendered)
    assert isinstance(volume, VolumeCommand) and volume.volume == 35
    assert config["availability_mode"] == "all"
    assert {c["p"] for c in cmps.values()} >= {"sensor", "switch", "number", "button", "event"}
    assert all("unique_id" in c for c in cmps.values())


async def test_hub_publishes_device_discovery_and_republishes_on_home_assistant_birth(broker, hub_models, tmp_path):
    kitchen = SimSatellite("kitchen", "Kitchen")
    await kitchen.start()
    seen: list[tuple[str, bytes]] = []
    ha = MqttLink(broker.settings("homeassistant"), "test-home-assistant")

    async def collect(topic: str, payload: bytes) -> None:
        seen.append((topic, payload))

    ha.subscribe_raw("homeassistant/device/+/config", collect)
    ha_task = asyncio.create_task(ha.run())
    await asyncio.wait_for(ha.connected.wait(), 10)
    try:
        async with running_hub(broker, hub_models, [kitchen], tmp_path):
            topic = discovery_topic("hearth_kitchen")
            for _ in range(100):
                if any(t == topic for t, _ in seen):
                    break
                await asyncio.sleep(0.05)
            config = json.loads(next(p for t, p in seen if t == topic))
            assert config["dev"]["sa"] == "Kitchen" and config["dev"]["ids"] == ["hearth_kitchen"]
            assert any(t == discovery_topic("hearth_hub_hub") for t, _ in seen)
            before = sum(1 for t, _ in seen if t == topic)
            ha.publish_bytes(HA_STATUS_TOPIC, b"online")  # Home Assistant restarted
            for _ in range(100):
                if sum(1 for t, _ in seen if t == topic) > before:
                    break
                await asyncio.sleep(0.05)
            assert sum(1 for t, _ in seen if t == topic) > before
    finally:
        ha_task.cancel()
        await asyncio.gather(ha_task, return_exceptions=True)
        await kitchen.close()
