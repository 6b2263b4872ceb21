"""The hub on MQTT: publishes what the event stream says, obeys what the house asks.

Out (all small JSON, see docs/topics.md): each conversation's state (retained) and turn
reports, hub state and metrics, arbitration decisions, device intents for Home Assistant,
commands to satellites (mute, volume from the fast path) and results of hub-owned commands.
In: satellite announcements (a new satellite is connected to at once), satellite interrupts,
hub-owned commands (announce, timers) plus ``stop`` for satellites that cannot hear MQTT.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from common.mqtt import MqttLink
from hub import __version__
from hub.events import ConversationEvent, EventKind
from hub.learning.learner import LearningCommandError
from protocol import discovery
from protocol.commands import (
    AnnounceCommand,
    LearningCommand,
    MuteCommand,
    StopCommand,
    TimerCancelCommand,
    TimerStartCommand,
    TuneCommand,
    VolumeCommand,
)
from protocol.payloads import (
    ArbitrationDecision,
    CommandResult,
    ConversationPhase,
    ConversationState,
    DeviceIntent,
    Interrupt,
    InterruptReason,
    LearningDecision,
    ResultStatus,
    SatelliteAnnounce,
    TurnReport,
)
from protocol.topics import ALL_SATELLITES, HA_STATUS_TOPIC, ConversationTopic, HubTopic, SatelliteTopic

if TYPE_CHECKING:
    from hub.app import Hub

_LOGGER = logging.getLogger(__name__)


class HubBridge:
    def __init__(self, link: MqttLink, hub: Hub) -> None:
        self.link = link
        self.topics = link.topics
        self.hub = hub
        t = self.topics
        link.subscribe(t.all_satellites(SatelliteTopic.ANNOUNCE), self._on_announce)
        link.subscribe(t.all_satellites(SatelliteTopic.INTERRUPT), self._on_interrupt)
        link.subscribe(t.all_commands(), self._on_command)
        link.subscribe(t.hub(HubTopic.COMMAND), self._on_hub_command)
        link.subscribe_raw(HA_STATUS_TOPIC, self._on_home_assistant_status)
        link.on_connect(self._republish_discovery)
        hub.bus.subscribe(self._on_event)
        self.announced: dict[str, SatelliteAnnounce] = {}

    # -- Home Assistant discovery --------------------------------------------------------
    def publish_discovery(self, satellite: str) -> None:
        session = self.hub.sessions.get(satellite)
        if session is None:
            return
        announce = self.announced.get(satellite)
        config = discovery.satellite_device(
            self.topics, satellite, name=session.name, area=session.area,
            software=announce.software if announce else "wyoming satellite",
            wake_words=list(announce.wake_words) if announce else ["wake"],
        )
        self.link.publish_bytes(discovery.discovery_topic(discovery.satellite_object_id(satellite)),
                                discovery.encode(config), retain=True)

    def publish_hub_discovery(self) -> None:
        hub_id = self.hub.settings.hub_id
        config = discovery.hub_device(self.topics, hub_id, software=f"hearth-hub {__version__}")
        self.link.publish_bytes(discovery.discovery_topic(f"hearth_hub_{hub_id}"), discovery.encode(config),
                                retain=True)

    async def _republish_discovery(self) -> None:
        self.publish_hub_discovery()
        for satellite in list(self.hub.sessions):
            self.publish_discovery(satellite)

    async def _on_home_assistant_status(self, topic: str, payload: bytes) -> None:
        if payload.strip().lower() == b"online":  # Home Assistant (re)started: tell it about the house again
            _LOGGER.info("Home Assistant is online: re-publishing discovery")
            await self._republish_discovery()

    # -- out -----------------------------------------------------------------------------
    def _on_event(self, event: ConversationEvent) -> None:
        if event.kind is EventKind.STATE_CHANGED:
            self.link.publish(self.topics.conversation(event.satellite, ConversationTopic.STATE), ConversationState(
                satellite=event.satellite, phase=ConversationPhase(event.data["to"]), turn_id=event.turn_id,
                since=event.wall,
            ), retain=True)
        elif event.kind is EventKind.SATELLITE_CONNECTED:
            machine = self.hub.states.machine(event.satellite)
            self.link.publish(self.topics.conversation(event.satellite, ConversationTopic.STATE), ConversationState(
                satellite=event.satellite, phase=machine.phase, turn_id=machine.turn_id, since=event.wall,
            ), retain=True)
            self.hub.publish_state()
            self.publish_discovery(event.satellite)

    def turn_report(self, report: TurnReport) -> None:
        self.link.publish(self.topics.conversation(report.satellite, ConversationTopic.TURN), report, retain=True)

    def arbitration(self, decision: ArbitrationDecision) -> None:
        self.link.publish(self.topics.hub(HubTopic.ARBITRATION), decision)

    def learning_decision(self, decision: LearningDecision) -> None:
        self.link.publish(self.topics.hub(HubTopic.LEARNING), decision)

    def device_intent(self, intent: DeviceIntent) -> None:
        self.link.publish(self.topics.hub(HubTopic.INTENT), intent)

    def command_satellite(self, satellite: str, command: MuteCommand | VolumeCommand | TuneCommand) -> None:
        self.link.publish(self.topics.command(satellite), command)

    def _result(self, command: Any, target: str, status: ResultStatus, code: str | None = None,
                message: str | None = None) -> None:
        self.link.publish(self.topics.hub(HubTopic.RESULT), CommandResult(
            id=command.id, command=command.command, target=target, handled_by=self.hub.settings.hub_id,
            status=status, code=code, message=message,
        ))

    # -- in ------------------------------------------------------------------------------
    async def _on_announce(self, topic: str, message: SatelliteAnnounce) -> None:
        self.announced[message.satellite] = message
        await self.hub.learn_satellite(message)
        if message.satellite in self.hub.sessions:
            self.publish_discovery(message.satellite)

    async def _on_interrupt(self, topic: str, message: Interrupt) -> None:
        session = self.hub.sessions.get(message.satellite)
        if session is not None:
            await session.interrupt(message.reason, turn_id=message.turn_id, tell_satellite=False)

    async def _on_command(self, topic: str, command: Any) -> None:
        target = self.topics.parse(topic).device_id or ALL_SATELLITES
        if isinstance(command, StopCommand):
            # Satellites that speak MQTT stop themselves and tell us; this covers stock ones.
            for session in self.hub.targets(target):
                await session.interrupt(InterruptReason.COMMAND)
            return
        if not isinstance(command, AnnounceCommand | TimerStartCommand | TimerCancelCommand):
            return  # satellite-owned: the satellite answers it
        sessions = self.hub.targets(target)
        if not sessions:
            self._result(command, target, ResultStatus.ERROR, "unknown_satellite",
                         f"no connected satellite {target!r}")
            return
        self._result(command, target, ResultStatus.ACCEPTED)
        try:
            if isinstance(command, AnnounceCommand):
                await self.hub.announce([s.id for s in sessions], command.text)
            elif isinstance(command, TimerStartCommand):
                for session in sessions:
                    timer = self.hub.timers.start(session.id, command.seconds, command.name)
                    await session.timer_started(timer)
            else:
                for session in sessions:
                    for timer in await self.hub.timers.cancel(session.id, command.timer_id):
                        await session.timer_cancelled(timer)
        except Exception as err:
            _LOGGER.warning("command %s to %s failed: %s", command.command, target, err)
            self._result(command, target, ResultStatus.ERROR, getattr(err, "code", "failed"), str(err))
            return
        self._result(command, target, ResultStatus.DONE)

    async def _on_hub_command(self, topic: str, command: Any) -> None:
        if not isinstance(command, LearningCommand):
            return
        hub = self.hub
        if hub.recorder is not None:
            hub.recorder.command(command.action, command.room, command.parameter)
        try:
            decisions = hub.learner.command(command.action, command.room, command.parameter)
        except LearningCommandError as err:
            self._result(command, "hub", ResultStatus.ERROR, err.code, str(err))
            return
        summary = "; ".join(f"{d.action.value} {d.parameter or 'all'} in {d.room or 'every room'}" for d in decisions)
        self._result(command, "hub", ResultStatus.DONE, message=(summary or "nothing to do")[:1900])
