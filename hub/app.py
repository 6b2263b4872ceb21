"""The hub process's composition root: builds every part once, says who owns what, starts and stops them.

Ownership, in one place:

- :class:`Hub` owns the long-lived tasks in ``_tasks`` (the MQTT link, leases, Home Assistant's link,
  model-server pools, metrics, the watchdog) and the commands that take a while (``run_transient``);
  it cancels and awaits all of them on close.
- :class:`~hub.adapters.satellite_links.SatelliteLinks` owns one Wyoming link task per satellite address.
- ``sessions`` (one :class:`~hub.conversation.session.SatelliteSession` per satellite, made on its first
  connect) own their open turn. A session's *volume and mute* are the satellite's, as it last said
  (Wyoming or MQTT); its *end-of-speech windows* are set by :class:`~hub.adapters.learned_tuning.LearnedTuning`;
  its *control route* (our Wyoming extension, else MQTT when it is on, else none) is
  chosen each time it is used (:attr:`SatelliteSession.control`).
- :class:`~hub.adapters.hub_status.HubStatus` owns the problem list and what ``hub/state`` says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from wyoming.info import Info

from common.systemd_notify import feed_watchdog, notify
from hub import wiring
from hub.adapters.announcer import Announcer
from hub.adapters.ha_discovery import HaDiscovery
from hub.adapters.hub_status import HubStatus
from hub.adapters.learned_tuning import LearnedTuning
from hub.adapters.mqtt_bridge import HubBridge
from hub.adapters.ownership import Ownership
from hub.adapters.satellite_link import SatelliteLink
from hub.adapters.satellite_links import SatelliteLinks
from hub.adapters.satellites import SatelliteRegistry
from hub.adapters.wyoming_service import WyomingService
from hub.conversation.announcement import Announcement
from hub.conversation.arbitration import Arbiter
from hub.conversation.bus import EventBus
from hub.conversation.session import SatelliteSession
from hub.conversation.state_machine import StateTracker
from hub.conversation.timeline import TurnTimeline
from hub.home.timers import TimerRegistry
from hub.learning.learner import Learner
from hub.learning.rules import parameters
from hub.loaded_models import Models
from hub.settings import HubSettings
from hub.storage.memory import Memory
from hub.storage.store import Store, StoreError
from hub.wiring import StartupError
from protocol.commands import TakeOverCommand
from protocol.payloads import HubMetrics, LearningDecision, SatelliteAnnounce
from protocol.topics import ALL_SATELLITES, Topics

__all__ = ["Hub", "Models", "StartupError"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


class Hub:
    def __init__(self, settings: HubSettings, loaded: Models) -> None:
        self.settings = settings
        self.models = loaded
        self.bus = EventBus()
        self.states = StateTracker(self.bus)
        # Durable state first: memory and what was learned survive restarts (and SIGKILL).
        wiring.private_dir(settings.data_dir)
        self.store = Store(settings.data_dir / "hub.sqlite")
        self.sessions: dict[str, SatelliteSession] = {}
        self.announcer = Announcer(self.bus, self.sessions)
        self.timers = self.announcer.timers = TimerRegistry(self.announcer.timer_finished, self.store)
        self.registry = SatelliteRegistry(settings.satellites, self.store.get_json("drivers"),
                                          on_change=lambda state: self._stored(
                                              lambda: self.store.put_json("drivers", state), None))
        self.memory = Memory(self.store, fact_ttl_s=settings.memory.fact_ttl_days * 86400,
                             max_facts_in_prompt=settings.memory.facts_in_prompt,
                             context_turns=settings.conversation.history_turns)
        self.learner = Learner(enabled=settings.learning.enabled, state=self.store.get_json("learning"),
                               on_decision=self._learning_decision, on_change=lambda *change: self.tuning.changed(*change),
                               on_state=self._save_learning,
                               parameters=parameters(settings.learning.end_of_speech_floor_ms,
                                                     settings.conversation.command_silence_ms))
        self.recorder = wiring.recorder(settings, lambda: self.learner.state(waiting=True), self.set_problem)
        if self.recorder is not None:
            self.bus.subscribe(self.recorder)  # before the learner: an event is written before what it caused
        self.bus.subscribe(self.learner)
        self.base_endpoint = wiring.base_endpoint(settings)
        self.services = wiring.turn_services(settings, loaded, self.bus, self.timers, style_for=self.learner.style_for,
                                             facts=self.memory.statements, on_user_text=self._user_said,
                                             on_turn_audio=self._keep_turn_audio)
        self.tuning = LearnedTuning(self.learner, self.sessions, self.base_endpoint)
        self.topics = Topics(settings.mqtt.root)
        self.link = wiring.mqtt_link(settings, self.topics)
        self.ownership: Ownership | None = None
        if settings.hubs.ownership and settings.mqtt.enabled:
            self.ownership = Ownership(
                self.link, self.topics, settings.hub_id, settings.hubs,
                on_owned=lambda satellite, uri: self.links.add(uri, expected_id=satellite),
                on_lost=lambda satellite, uri: self.run_transient(self.links.drop(uri), f"let-go-{satellite}"),
                grace_s=2.0 * settings.mqtt.keepalive_s)
        self.timeline = TurnTimeline(lambda report: self.bridge.turn_report(report))
        self.status = HubStatus(self.link, loaded, self.sessions, turns_total=lambda: self.timeline.total,
                                audio_dropped=lambda: self.links.audio_dropped())
        self.ha = HaDiscovery(self.link, self, hub_id=settings.hub_id, ha_version=settings.home_assistant.version)
        self.bridge = HubBridge(self.link, self, bus=self.bus, ha=self.ha, hub_id=settings.hub_id,
                                ownership=self.ownership, settle_s=settings.hubs.settle_s)
        self.home, self.home_assistant = wiring.home_control(settings, self.link, self.bus, self.services,
                                                            self.set_problem)
        self.bus.subscribe(self.announcer.on_event)
        self.arbiter = Arbiter(settings.conversation.arbitration_window_ms, publish=self.bridge.arbitration,
                               preference=self.learner.room_preference,
                               contenders=lambda: sum(1 for s in self.sessions.values() if s.connected))
        self.links = SatelliteLinks(
            self.registry, self.arbiter, session_for=self._session_for, sessions=self.sessions, leases=self.ownership,
            ask_to_drop_driver=lambda satellite: self.bridge.command_satellite(satellite, TakeOverCommand(
                command="take_over", sender=f"hub-{settings.hub_id}")),
            on_control=self.tuning.apply, report_problem=self.set_problem, publish_link=self.ha.publish_link,
            release_in_background=lambda satellite: self.run_transient(self.release_satellite(satellite),
                                                                       f"release-{satellite}"))
        self.bus.subscribe(self.links.on_event)
        self.bus.subscribe(self.timeline)
        self.wyoming: WyomingService | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._transient: set[asyncio.Task[None]] = set()
        """Commands that take a while (an announcement until it is played): cancelled on close."""
        self.ready = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def start(self) -> None:
        # Ports first: a second hub started by mistake must fail here (StartupError), before it joins MQTT
        # (same login: it would take the running hub's session) or connects to a satellite.
        s = self.settings
        self.wyoming = await wiring.open_ports(s, self.models, self)
        if s.mqtt.enabled:
            self._spawn(self.link.run(), "mqtt")
        if self.ownership is not None:
            self._spawn(self.ownership.run(), "ownership")
        if self.home_assistant is not None:
            self._spawn(self.home_assistant.run(), "home-assistant")
        for entry in self.registry.entries:
            if entry.uri:
                self.links.add(entry.uri, expected_id=entry.id)  # not if Home Assistant drives it
        self._save_learning(self.learner.state())  # from the first minute on, the state on disk is whole
        self.timers.restore()  # timers of the last run go on; one that ended meanwhile rings when its satellite is here
        for pool in self.models.pools:
            self._spawn(pool.run(), f"{pool.kind}-servers")
        self._spawn(self.status.run(), "hub-metrics")
        self._spawn(feed_watchdog(lambda: True), "watchdog")
        self.status.set_lifecycle("ready")
        self.ready.set()
        notify("READY=1\nSTATUS=models loaded, serving")
        _LOGGER.info("hub ready: %d satellite address(es) configured", len(s.satellites))

    async def close(self) -> None:
        self.status.set_lifecycle("stopping")
        notify("STOPPING=1")
        self.ha.close()
        for task in list(self._transient):
            task.cancel()
        await asyncio.gather(*self._transient, return_exceptions=True)
        for session in list(self.sessions.values()):
            await session.close()
        await self.timers.close()
        await self.announcer.close()
        await self.tuning.close()
        if self.wyoming is not None:
            await self.wyoming.close()
        self.learner.flush()
        if self.recorder is not None:
            self.recorder.close()
        if self.ownership is not None:  # links closed first, so the next owner is not refused as a second driver
            await self.links.close()
            self.ownership.release_all()
        # Give the MQTT link a moment to send the final state before its task is cancelled.
        if self.link.connected.is_set():
            await self.link.flush(1.0)
        await self.links.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.store.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    def run_transient(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._transient.add(task)
        task.add_done_callback(self._transient.discard)

    # -- satellites (links: hub/adapters/satellite_links.py) ----------------------------------
    def add_satellite(self, uri: str, expected_id: str | None = None, *, take_over: bool = False) -> None:
        self.links.add(uri, expected_id, take_over=take_over)

    @property
    def _links(self) -> dict[str, SatelliteLink]:
        return self.links.links

    @property
    def satellite_links(self) -> int:
        """Satellite connection tasks alive (configured plus announced)."""
        return self.links.alive

    @property
    def link_problems(self) -> dict[str, str]:
        return self.links.problems

    async def learn_satellite(self, announce: SatelliteAnnounce) -> None:
        await self.links.learn(announce)

    async def release_satellite(self, satellite: str) -> None:
        await self.links.release(satellite)

    async def drive_satellite(self, satellite: str, uri: str, *, take_over: bool = False) -> SatelliteLink:
        return await self.links.drive(satellite, uri, take_over=take_over)

    def clear_link_problem(self, satellite: str) -> None:
        self.links.clear_problem(satellite)

    def publish_satellite(self, satellite: str) -> None:
        self.ha.publish_satellite(satellite)

    def _session_for(self, satellite_id: str, info: Info | None) -> SatelliteSession:
        session = self.sessions.get(satellite_id)
        if session is None:
            name = info.satellite.name if info and info.satellite else satellite_id
            area = info.satellite.area if info and info.satellite and info.satellite.area else satellite_id
            session = SatelliteSession(satellite_id, self.services, name=name, area=area,
                                       fallback_control=self.bridge.control_for,  # None while MQTT is off
                                       history=self._stored(lambda: self.memory.context(satellite_id), list[tuple[str, str]]()),
                                       on_remember=lambda user, spoken: self._stored(
                                           lambda: self.memory.remember_turn(satellite_id, user, spoken), None))
            self.sessions[satellite_id] = session
        self.tuning.apply(session)  # again once it takes control events over Wyoming (links' on_control)
        return session

    def targets(self, target: str) -> list[SatelliteSession]:
        chosen = self.sessions.values() if target == ALL_SATELLITES else [self.sessions.get(target)]
        return [s for s in chosen if s is not None and s.connected]

    def known_satellites(self) -> set[str]:
        """Every satellite Home Assistant should see: configured, announced, connected, or handed over."""
        return self.registry.known_ids() | set(self.sessions)

    async def announce(self, satellite_ids: list[str], text: str) -> Announcement:
        return await self.announcer.announce(satellite_ids, text)

    # -- memory, learning, storage --------------------------------------------------------
    def _user_said(self, satellite: str, turn_id: str, text: str) -> None:
        session = self.sessions.get(satellite)
        room = session.area if session else satellite
        self._stored(lambda: self.memory.learn_from(text, satellite=satellite, room=room, turn_id=turn_id), None)

    def _keep_turn_audio(self, satellite: str, turn_id: str, pcm: bytes) -> None:
        if self.recorder is not None:
            self.recorder.turn_audio(satellite, turn_id, pcm)

    def _learning_decision(self, decision: LearningDecision) -> None:
        if self.recorder is not None:
            self.recorder.decision(decision)
        self.bridge.learning_decision(decision)

    def _save_learning(self, state: dict[str, Any]) -> None:
        self._stored(lambda: self.store.put_json("learning", state), None)

    def _stored(self, write: Callable[[], _T], fallback: _T) -> _T:
        """Run a state-database call; a failure (e.g. a full disk) is reported, not raised into a turn."""
        try:
            result = write()
        except StoreError as err:
            self.set_problem("storage", str(err))
            return fallback
        self.set_problem("storage", None)
        return result

    # -- state and metrics (hub/adapters/hub_status.py) -----------------------------------
    @property
    def problems(self) -> dict[str, str]:
        return self.status.problems

    def set_problem(self, key: str, problem: str | None) -> None:
        self.status.set_problem(key, problem)

    def publish_state(self) -> None:
        self.status.publish_state()

    def metrics(self) -> HubMetrics:
        return self.status.metrics()

