"""Mosquitto restarts: commands sent while it is down arrive afterwards, state is back within 2 s."""

from __future__ import annotations

import asyncio
import time

import pytest

from common.mqtt import MqttLink
from protocol.commands import MuteCommand
from protocol.payloads import SatelliteState
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings

pytestmark = pytest.mark.timeout(120)


async def test_command_sent_during_broker_outage_is_delivered_and_state_republished(broker, tmp_path):
    settings = SatelliteSettings.model_validate({
        "id": "kitchen", "mqtt": broker.settings("kitchen").model_dump(),
        "wyoming": {"host": "127.0.0.1", "port": 0}, "audio": {"backend": "file"},
    })
    app = await asyncio.to_thread(SatelliteApp, settings)
    hub = MqttLink(broker.settings("hub"), "test-hub")
    monitor = MqttLink(broker.settings("monitor"), "test-monitor")
    states: list[tuple[float, SatelliteState]] = []

    async def on_state(topic: str, state: SatelliteState) -> None:
        states.append((time.monotonic(), state))

    monitor.subscribe(monitor.topics.satellite("kitchen", "state"), on_state)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(monitor.run())]
    await app.start()
    try:
        for link in (hub, monitor, app.link):
            await asyncio.wait_for(link.connected.wait(), 10)
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(0.5)
        command = MuteCommand(command="mute", muted=True)
        hub.publish(hub.topics.command("kitchen"), command)  # the broker is down: queued, not lost
        await asyncio.to_thread(broker.start)
        back = time.monotonic()
        for _ in range(200):
            if app.core.muted and any(s.muted for _, s in states):
                break
            await asyncio.sleep(0.05)
        assert app.core.muted, "the command sent during the outage was delivered"
        # The retained state came back quickly after the broker did.
        first_after = min(t for t, _ in states if t >= back)
        assert first_after - back < 2.0, first_after - back
    finally:
        await app.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
