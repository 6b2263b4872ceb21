"""``hearth-monitor``: a live, human view of every room, from MQTT only (read-only credentials)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from rich.live import Live
from rich.table import Table

from common.mqtt import MqttLink, MqttSettings
from common.settings import parse_settings
from protocol.payloads import (
    Availability,
    ConversationState,
    HubState,
    SatelliteOwner,
    SatelliteState,
    TurnReport,
)
from protocol.topics import ConversationTopic, HubTopic, SatelliteTopic, Topics


class MonitorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    once: bool = Field(default=False, description="Print one snapshot after a second and exit")


@dataclass
class Room:
    phase: str = "?"
    audio: str = "?"
    muted: bool = False
    online: str = "?"
    heard: str = ""
    said: str = ""
    latency_ms: float | None = None
    owner: str = "-"
    """The hub holding the satellite's lease (several hubs, ``[hubs] ownership``)."""


class Monitor:
    def __init__(self, link: MqttLink) -> None:
        self.rooms: dict[str, Room] = {}
        self.hub = "?"
        t = link.topics
        link.subscribe(t.all_satellites(SatelliteTopic.STATE), self._satellite_state)
        link.subscribe_raw(t.all_satellites(SatelliteTopic.AVAILABILITY), self._availability)
        link.subscribe(f"{t.base}/conversation/+/{ConversationTopic.STATE}", self._conversation)
        link.subscribe(f"{t.base}/conversation/+/{ConversationTopic.TURN}", self._turn)
        link.subscribe(t.hub(HubTopic.STATE), self._hub)
        link.subscribe(t.all_owners(), self._owner)
        link.subscribe_raw(t.all_hub_availability(), self._hub_availability)
        self.hubs: dict[str, str] = {}
        """Hub id -> online/offline, for houses with several hubs."""
        self._topics: Topics = t

    def room(self, satellite: str) -> Room:
        return self.rooms.setdefault(satellite, Room())

    async def _satellite_state(self, topic: str, state: SatelliteState) -> None:
        room = self.room(state.satellite)
        room.audio, room.muted = state.phase.value, state.muted

    async def _availability(self, topic: str, payload: bytes) -> None:
        satellite = self._topics.parse(topic).device_id or "?"
        with contextlib.suppress(ValueError):
            self.room(satellite).online = Availability(payload.decode()).value

    async def _conversation(self, topic: str, state: ConversationState) -> None:
        self.room(state.satellite).phase = state.phase.value

    async def _turn(self, topic: str, report: TurnReport) -> None:
        room = self.room(report.satellite)
        room.heard, room.said, room.latency_ms = report.transcript, report.response, report.timings.first_audio_ms

    async def _owner(self, topic: str, lease: SatelliteOwner) -> None:
        self.room(lease.satellite).owner = lease.hub

    async def _hub_availability(self, topic: str, payload: bytes) -> None:
        hub = self._topics.parse(topic).device_id or "?"
        with contextlib.suppress(ValueError):
            self.hubs[hub] = Availability(payload.decode()).value

    def owner_label(self, room: Room) -> str:
        """``hub-b`` or ``hub-b (offline)``: a lease whose hub is gone is about to move."""
        if room.owner == "-" or self.hubs.get(room.owner, "online") == "online":
            return room.owner
        return f"{room.owner} ({self.hubs[room.owner]})"

    async def _hub(self, topic: str, state: HubState) -> None:
        self.hub = f"{state.status} ({len(state.satellites)} satellites)"

    def table(self) -> Table:
        table = Table(title=f"Hearth - hub {self.hub} - {time.strftime('%H:%M:%S')}")
        for column in ("room", "online", "hub", "conversation", "audio", "last words", "answer", "latency"):
            table.add_column(column)
        for name, room in sorted(self.rooms.items()):
            table.add_row(name, room.online, self.owner_label(room), room.phase,
                          room.audio + (" (muted)" if room.muted else ""),
                          room.heard[:40], room.said[:50],
                          f"{room.latency_ms:.0f} ms" if room.latency_ms is not None else "-")
        return table


async def _run(settings: MonitorSettings) -> int:
    link = MqttLink(settings.mqtt, f"hearth-monitor-{int(time.time())}")
    monitor = Monitor(link)
    task = asyncio.create_task(link.run(), name="mqtt")
    try:
        if settings.once:
            await asyncio.sleep(1.5)
            from rich.console import Console

            Console().print(monitor.table())
            return 0
        with Live(monitor.table(), refresh_per_second=4) as live:
            while True:
                await asyncio.sleep(0.25)
                live.update(monitor.table())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(MonitorSettings, argv, "hearth-monitor", "A live view of every room, from MQTT.")
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
