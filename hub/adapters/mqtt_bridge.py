"""The hub on MQTT: publishes what the event stream says, obeys what the house asks.

Out (all small JSON, see docs/topics.md): each conversation's state (retained) and turn
reports, hub state and metrics, arbitration decisions, device intents for Home Assistant,
commands to satellites (mute, volume, tune: the MQTT route of hub.conversation.control, for a
satellite without our Wyoming extension) and results of hub-owned commands.
In: satellite announcements (a new satellite is connected to at once), satellite interrupts and state
(its volume and mute), hub-owned commands (hub/adapters/hub_commands.py: announce, timers, driver,
learning) plus ``stop`` for satellites that cannot hear MQTT.

Identity comes from the topic, which the broker's ACL ties to the login: a payload naming
another satellite than its topic is refused and logged. Commands pass through
:class:`common.command_intake.CommandIntake` (once per id, retained ones refused and cleared
from the broker, malformed ones with a readable id answered with an error). A conversation
state retained from a previous hub that died mid-turn is overwritten with what this hub knows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from common.command_intake import CommandIntake, Refusal
from common.mqtt import Delivery, LogLimiter, MqttLink
from hub.adapters.ha_discovery import HaDiscovery
from hub.adapters.hub_commands import BridgeHost, HubCommands
from hub.adapters.ownership import Ownership
from hub.adapters.satellite_control import MqttControl
from hub.conversation.bus import EventBus
from hub.conversation.event_data import SatelliteConnected, StateChanged
from hub.conversation.events import ConversationEvent
from protocol import codec
from protocol.commands import (
    HUB_OWNED,
    MuteCommand,
    StopCommand,
    TakeOverCommand,
    TuneCommand,
    VolumeCommand,
)
from protocol.payloads import (
    ArbitrationDecision,
    CommandResult,
    ConversationPhase,
    ConversationState,
    Interrupt,
    LearningDecision,
    ResultStatus,
    SatelliteAnnounce,
    SatelliteState,
    TurnReport,
)
from protocol.topics import ALL_SATELLITES, HA_STATUS_TOPIC, ConversationTopic, HubTopic, SatelliteTopic

_LOGGER = logging.getLogger(__name__)

ToSatellite = MuteCommand | VolumeCommand | TuneCommand | StopCommand | TakeOverCommand


class HubBridge:
    def __init__(self, link: MqttLink, hub: BridgeHost, *, bus: EventBus, ha: HaDiscovery, hub_id: str,
                 ownership: Ownership | None, settle_s: float) -> None:
        self.link = link
        self.topics = link.topics
        self.hub = hub
        self.commands = HubCommands(hub, self._result)
        self.ha = ha
        self.hub_id = hub_id
        self.ownership = ownership
        self._settle_s = settle_s
        """With several hubs, how long the leases take to come in (``[hubs] settle_s``)."""
        t = self.topics
        link.subscribe(t.all_satellites(SatelliteTopic.ANNOUNCE), self._on_announce)
        link.subscribe(t.all_satellites(SatelliteTopic.INTERRUPT), self._on_interrupt)
        link.subscribe(t.all_satellites(SatelliteTopic.STATE), self._on_satellite_state)
        # ``stop`` is taken (once) but answered by the satellite; announce and timers are ours.
        self.intake = CommandIntake(t, HUB_OWNED | {"stop"}, answer_unreadable=False, rate_per_s=50, burst=200)
        self.hub_intake = CommandIntake(t, None, answer_unreadable=True, rate_per_s=20, burst=50)
        link.subscribe_deliveries(t.all_commands(), self._on_command_delivery)
        link.subscribe_deliveries(t.hub(HubTopic.COMMAND), self._on_hub_command_delivery)
        link.subscribe_deliveries(f"{t.base}/conversation/+/state", self._on_old_conversation_state,
                                  retain_as_published=False)
        self.impostors = 0
        """Payloads refused because they named another satellite than their topic."""
        self._log = LogLimiter(_LOGGER)
        link.subscribe_raw(HA_STATUS_TOPIC, self._on_home_assistant_status)
        link.on_connect(self._republish_discovery)
        bus.subscribe(self._on_event)
        self.announced: dict[str, SatelliteAnnounce] = {}

    # -- Home Assistant discovery (hub/adapters/ha_discovery.py) -----------------------------------
    def publish_discovery(self, satellite: str) -> None:
        self.ha.publish_satellite(satellite)

    async def _republish_discovery(self) -> None:
        await self.ha.publish_all()

    async def _on_home_assistant_status(self, topic: str, payload: bytes) -> None:
        if payload.strip().lower() == b"online":  # Home Assistant (re)started: tell it about the house again
            _LOGGER.info("Home Assistant is online: re-publishing discovery")
            await self._republish_discovery()

    # -- out -----------------------------------------------------------------------------
    def _on_event(self, event: ConversationEvent) -> None:
        if isinstance(event.data, StateChanged):
            self.link.publish(self.topics.conversation(event.satellite, ConversationTopic.STATE), ConversationState(
                satellite=event.satellite, phase=event.data.after, turn_id=event.turn_id,
                since=event.wall,
            ), retain=True)
        elif isinstance(event.data, SatelliteConnected):
            machine = self.hub.states.machine(event.satellite)
            self.link.publish(self.topics.conversation(event.satellite, ConversationTopic.STATE), ConversationState(
                satellite=event.satellite, phase=machine.phase, turn_id=machine.turn_id, since=event.wall,
            ), retain=True)
            self.hub.publish_state()
            self.publish_discovery(event.satellite)

    def turn_report(self, report: TurnReport) -> None:
        # An announcement is not a conversation: "last transcript/response" stay as they were.
        leaf = ConversationTopic.ANNOUNCEMENT if report.handler == "announce" else ConversationTopic.TURN
        self.link.publish(self.topics.conversation(report.satellite, leaf), report, retain=True)

    def arbitration(self, decision: ArbitrationDecision) -> None:
        self.link.publish(self.topics.hub(HubTopic.ARBITRATION), decision)

    def learning_decision(self, decision: LearningDecision) -> None:
        self.link.publish(self.topics.hub(HubTopic.LEARNING), decision)

    def command_satellite(self, satellite: str, command: ToSatellite) -> None:
        self.link.publish(self.topics.command(satellite), command)

    def control_for(self, satellite: str) -> MqttControl | None:
        """The MQTT route of :class:`hub.conversation.control.SatelliteControl`, for a satellite without our
        Wyoming extension (a stock one may have an MQTT companion); None while MQTT is off."""
        if not self.link.settings.enabled:
            return None
        return MqttControl(self.command_satellite, satellite, sender=f"hub-{self.hub_id}")

    def _result(self, command: Any, target: str, status: ResultStatus, code: str | None = None,
                message: str | None = None) -> None:
        self.link.publish(self.topics.hub(HubTopic.RESULT), CommandResult(
            id=command.id, command=command.command, target=target, handled_by=self.hub_id,
            status=status, code=code, message=message,
        ), essential=True)

    # -- in ------------------------------------------------------------------------------
    def _genuine(self, topic: str, claimed: str) -> bool:
        """The topic's satellite id is the sender (the ACL lets a login write only its own subtree)."""
        sender = self.topics.parse(topic).device_id
        if claimed == sender:
            return True
        self.impostors += 1
        self._log.warning("impostor", "refused a message on %s: it names satellite %r, but only %r can write "
                          "there", topic, claimed, sender)
        return False

    async def _on_announce(self, topic: str, message: SatelliteAnnounce) -> None:
        if not self._genuine(topic, message.satellite):
            return
        self.announced[message.satellite] = message
        await self.hub.learn_satellite(message)
        self.publish_discovery(message.satellite)  # also when Home Assistant drives it

    async def _on_interrupt(self, topic: str, message: Interrupt) -> None:
        if not self._genuine(topic, message.satellite):
            return
        session = self.hub.sessions.get(message.satellite)
        if session is not None:
            await session.interrupt(message.reason, turn_id=message.turn_id, tell_satellite=False)

    async def _on_satellite_state(self, topic: str, message: SatelliteState) -> None:
        """The satellite's own volume and mute (retained): what "louder" starts from."""
        if not self._genuine(topic, message.satellite):
            return
        session = self.hub.sessions.get(message.satellite)
        if session is not None:
            session.satellite_state(volume=message.volume, muted=message.muted)

    async def _on_old_conversation_state(self, delivery: Delivery) -> None:
        """A state the broker kept from before we subscribed: true only if it matches what we know now."""
        if not delivery.retain or not delivery.payload:
            return
        try:
            old = codec.decode(self.topics, delivery.topic, delivery.payload)
        except codec.PayloadError:
            old = None
        satellite = self.topics.parse(delivery.topic).device_id
        if satellite is None:
            return
        if self.ownership is not None:
            # Several hubs: the state is its owner's to tell. Decide once the leases are in.
            settle_s = self._settle_s + 1.0
            asyncio.get_running_loop().call_later(settle_s, self._correct_state, delivery.topic, satellite, old)
            return
        self._correct_state(delivery.topic, satellite, old)

    def _correct_state(self, topic: str, satellite: str, old: ConversationState | None) -> None:
        ownership = self.ownership
        if ownership is not None and ownership.owner(satellite) not in (None, self.hub_id):
            return  # another hub's satellite
        session = self.hub.sessions.get(satellite)
        phase = self.hub.states.phase(satellite) if session is not None and session.connected else ConversationPhase.IDLE
        if old is not None and old.phase is phase:
            return
        _LOGGER.info("conversation state of %s was %s from an earlier hub; now %s", satellite,
                     old.phase.value if old is not None else "unreadable", phase.value)
        self.link.publish(topic, ConversationState(satellite=satellite, phase=phase, since=time.time()), retain=True)

    async def _clear_retained_command(self, delivery: Delivery) -> None:
        if delivery.retain and delivery.payload:
            self._log.warning("retained", "cleared a retained command on %s (it would run again on every restart)",
                              delivery.topic)
            self.link.forget_retained(delivery.topic)

    async def _on_command_delivery(self, delivery: Delivery) -> None:
        await self._clear_retained_command(delivery)
        taken = self.intake.take(delivery)
        target = self.topics.parse(delivery.topic).device_id or ALL_SATELLITES
        if isinstance(taken, Refusal):
            if taken.command != "stop":
                self._result(taken, target, ResultStatus.ERROR, taken.code, taken.message)
        elif taken is not None:
            await self._on_command(delivery.topic, taken)

    async def _on_hub_command_delivery(self, delivery: Delivery) -> None:
        await self._clear_retained_command(delivery)
        taken = self.hub_intake.take(delivery)
        if isinstance(taken, Refusal):
            self._result(taken, "hub", ResultStatus.ERROR, taken.code, taken.message)
        elif taken is not None:
            await self._on_hub_command(delivery.topic, taken)

    async def _on_command(self, topic: str, command: Any) -> None:
        await self.commands.satellite_command(self.topics.parse(topic).device_id or ALL_SATELLITES, command)

    async def _on_hub_command(self, topic: str, command: Any) -> None:
        await self.commands.hub_command(command)
