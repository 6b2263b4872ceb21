"""The real hub in this process, driving simulated satellites, and a monitor's view of the broker.

Used by the hub's end-to-end tests and by ``bench/soak.py``: the hub is the one users run (real models,
real Wyoming over TCP, a real Mosquitto); only where it keeps its data and which satellites it dials change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from common.local_broker import MosquittoBroker
from common.mqtt import MqttLink
from hub.app import Hub
from hub.loaded_models import Models
from hub.settings import HubSettings
from testbed.simsat import SimSatellite

SATELLITES_READY_S = 10.0
"""How long the hub may take to reach every simulated satellite before a rig gives up (seconds)."""


@contextlib.asynccontextmanager
async def running_hub(broker: MosquittoBroker, models: Models, satellites: list[SimSatellite], tmp_path: Path,
                      **conversation: Any) -> AsyncIterator[Hub]:
    """A started hub that has reached every satellite; ``conversation`` overrides its [conversation] settings."""
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [s.uri for s in satellites],
        "mqtt": broker.settings("hub").model_dump(), "wyoming": {"port": 0},
        "conversation": conversation,
    })
    hub = Hub(settings, models)
    await hub.start()
    try:
        for satellite in satellites:
            await asyncio.wait_for(satellite.running.wait(), SATELLITES_READY_S)
        yield hub
    finally:
        await hub.close()


@contextlib.asynccontextmanager
async def watching(broker: MosquittoBroker, topic_filter: str) -> AsyncIterator[list[Any]]:
    """Every message on ``topic_filter`` (decoded by the contract), as the monitor account sees it, in order."""
    seen: list[Any] = []
    link = MqttLink(broker.settings("monitor"), "test-monitor")

    async def collect(topic: str, message: object) -> None:
        seen.append(message)

    link.subscribe(topic_filter, collect)
    async with link.running():
        yield seen


async def wait_until(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll ``predicate`` until it holds; for state that changes in another process or on the broker."""
    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - the state lives elsewhere: nothing here to await
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)
