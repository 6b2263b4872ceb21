"""The satellite on MQTT: announces itself, obeys commands with a result each, and its state follows."""

from __future__ import annotations

import asyncio

import pytest

from common.mqtt import MqttLink
from protocol.commands import MuteCommand, StartConversationCommand, VolumeCommand
from protocol.payloads import CommandResult, ResultStatus, SatelliteAnnounce, SatelliteState
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings

pytestmark = pytest.mark.timeout(120)


async def test_satellite_announces_and_obeys_commands(broker, tmp_path):
    settings = SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "mqtt": broker.settings("kitchen").model_dump(),
        "wyoming": {"host": "127.0.0.1", "port": 0}, "audio": {"backend": "file", "realtime": True},
    })
    app = await asyncio.to_thread(SatelliteApp, settings)
    seen: list = []
    hub = MqttLink(broker.settings("hub"), "test-hub")

    async def collect(topic: str, message: object) -> None:
        seen.append(message)

    hub.subscribe("voice/v1/satellite/kitchen/#", collect)
    hub_task = asyncio.create_task(hub.run())
    await asyncio.wait_for(hub.connected.wait(), 10)
    await app.start()
    try:
        await asyncio.wait_for(app.link.connected.wait(), 10)
        mute, volume = MuteCommand(command="mute", muted=True), VolumeCommand(command="volume", volume=40)
        start = StartConversationCommand(command="start_conversation")
        for command in (mute, volume, start):
            hub.publish(hub.topics.command("kitchen"), command)

        def result(command_id: str) -> CommandResult | None:
            return next((m for m in seen if isinstance(m, CommandResult) and m.id == command_id), None)

        for _ in range(100):
            if all(result(c.id) for c in (mute, volume, start)):
                break
            await asyncio.sleep(0.05)
    finally:
        await app.close()
        hub_task.cancel()
        await asyncio.gather(hub_task, return_exceptions=True)
    announce = next(m for m in seen if isinstance(m, SatelliteAnnounce))
    assert announce.area == "Kitchen" and announce.wyoming_uri.endswith(f":{app.server.port}")
    assert announce.wake_words == ["hey_jarvis"]
    assert result(mute.id).status is ResultStatus.DONE and result(volume.id).status is ResultStatus.DONE
    # Muted, it refuses to start listening, with a clear reason.
    refused = result(start.id)
    assert refused.status is ResultStatus.ERROR and refused.code == "busy" and "muted" in (refused.message or "")
    last_state = [m for m in seen if isinstance(m, SatelliteState)][-1]
    assert last_state.muted is True and last_state.volume == 40
    assert app.player.volume == 40
