"""Real hub processes (``python -m hub``) sharing one broker, and a monitor's view of who drives which satellite.

Used by ``tests/test_multi_hub.py`` (failover within the bound, no flapping) and ``bench/failover.py``
(how long failover takes, many times over).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common.local_broker import REPO, MosquittoBroker
from common.mqtt import MqttLink
from protocol.payloads import Availability, SatelliteOwner, TurnReport
from satellite.app import SatelliteApp
from testbed.audio_fixtures import silence
from testbed.toml_config import mqtt_table, write_toml


def wake_and_ask(speech: Callable[[str], bytes]) -> bytes:
    """What a person says to a satellite: the wake word, a breath, the question, then quiet."""
    return speech("Hey Jarvis.") + silence(0.25) + speech("What time is it?") + silence(2.0)


class House:
    """What a monitor sees: every lease as it arrives (with its time), turn reports, hub availability."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.link = MqttLink(broker.settings("homeassistant"), "test-homeassistant")
        self.leases: list[tuple[float, SatelliteOwner]] = []
        self.reports: list[TurnReport] = []
        self.hubs: dict[str, str] = {}
        t = self.link.topics

        async def lease(topic: str, message: SatelliteOwner) -> None:
            self.leases.append((time.monotonic(), message))

        async def report(topic: str, message: TurnReport) -> None:
            self.reports.append(message)

        async def availability(topic: str, message: Availability) -> None:
            self.hubs[topic.split("/")[-2]] = message.value

        self.link.subscribe(t.all_owners(), lease)
        self.link.subscribe(f"{t.base}/conversation/+/turn", report)
        self.link.subscribe(t.all_hub_availability(), availability)

    def owner(self, room: str) -> str | None:
        return next((m.hub for _, m in reversed(self.leases) if m.satellite == room), None)


async def start_hub(tmp_path: Path, broker: MosquittoBroker, hub_id: str) -> asyncio.subprocess.Process:
    """``python -m hub`` as ``hub_id`` with lease ownership on, no Wyoming server, no recorder; log in tmp_path."""
    config = tmp_path / f"{hub_id}.toml"
    write_toml(config, {"hub_id": hub_id, "data_dir": str(tmp_path / f"{hub_id}-data"),
                        "mqtt": mqtt_table(broker, hub_id), "wyoming": {"enabled": False},
                        "hubs": {"ownership": True}, "recorder": {"enabled": False}})
    with (tmp_path / f"{hub_id}.log").open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "hub", "--config", str(config),
                                                    stdout=out, stderr=out, cwd=str(REPO))


def driven(app: SatelliteApp) -> bool:
    """The satellite has a hub on its Wyoming server right now."""
    return app.core.hub_ready.is_set() and app.core._peer is not None and not app.core._peer.closed
