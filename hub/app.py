"""The hub process: loads the models once, connects to every satellite, joins MQTT.

:class:`Hub` owns every long-lived task (one per satellite link, the MQTT link, the
Wyoming service, metrics, the watchdog) and cancels them all on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import psutil
from wyoming.info import Info

from common.mqtt import MqttLink
from common.systemd_notify import feed_watchdog, notify
from hub import __version__
from hub.adapters.ha_discovery import HaDiscovery
from hub.adapters.mqtt_bridge import HubBridge
from hub.adapters.ownership import Ownership
from hub.adapters.satellites import SatelliteRegistry
from hub.answers.home_context import HomeContext
from hub.conversation.announcement import Announcement
from hub.conversation.arbitration import Arbiter
from hub.conversation.events import ConversationEvent, EventBus, EventKind
from hub.conversation.session import SatelliteSession
from hub.conversation.state_machine import StateTracker
from hub.conversation.timeline import TurnTimeline
from hub.home.control import HomeControl
from hub.home.home_assistant import HomeAssistantBackend
from hub.home.intents import IntentMatcher
from hub.home.model import HomeBackend
from hub.home.mqtt_devices import MqttDevices
from hub.home.skills import Skills, timer_label
from hub.home.timers import Timer, TimerRegistry
from hub.learning.contract import COMMAND_WINDOW, END_OF_SPEECH, WAKE_THRESHOLD
from hub.learning.learner import Learner
from hub.learning.rules import parameters
from hub.loaded_models import Models
from hub.pipeline.endpointing import EndpointSettings
from hub.pipeline.transcript import DoubtSettings
from hub.pipeline.turn_services import TurnServices, TurnSettings
from hub.settings import HubSettings
from hub.storage.memory import Memory
from hub.storage.recorder import SessionRecorder
from hub.storage.store import Store, StoreError
from protocol.commands import TakeOverCommand, TuneCommand
from protocol.payloads import (
    HubMetrics,
    HubState,
    InterruptReason,
    LearningDecision,
    SatelliteAnnounce,
    SatelliteDriver,
)
from protocol.topics import ALL_SATELLITES, HubTopic, Topics

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_ANNOUNCED_SATELLITES = 64
"""Satellites learned from MQTT announcements (configured ones are not counted): each costs a task
and a connection, and an announce is cheap to send."""


class StartupError(RuntimeError):
    """The hub cannot start (e.g. its port is taken); one line for the person starting it."""


class Hub:
    def __init__(self, settings: HubSettings, loaded: Models) -> None:
        self.settings = settings
        self.models = loaded
        self.problems: dict[str, str] = {}
        self.bus = EventBus()
        self.states = StateTracker(self.bus)
        # Durable state first: memory and what was learned survive restarts (and SIGKILL).
        _private_dir(settings.data_dir)
        self.store = Store(settings.data_dir / "hub.sqlite")
        self.timers = TimerRegistry(self._timer_finished, self.store)
        self.registry = SatelliteRegistry(settings.satellites, self.store.get_json("drivers"),
                                          on_change=lambda state: self._stored(
                                              lambda: self.store.put_json("drivers", state), None))
        self.link_problems: dict[str, str] = {}
        """Satellite id -> why the hub cannot drive it (e.g. another client holds it)."""
        self.memory = Memory(self.store, fact_ttl_s=settings.memory.fact_ttl_days * 86400,
                             max_facts_in_prompt=settings.memory.facts_in_prompt,
                             context_turns=settings.conversation.history_turns)
        self.learner = Learner(enabled=settings.learning.enabled, state=self.store.get_json("learning"),
                               on_decision=self._learning_decision, on_change=self._learning_change,
                               on_state=self._save_learning,
                               parameters=parameters(settings.learning.end_of_speech_floor_ms,
                                                     settings.conversation.command_silence_ms))
        self.recorder: SessionRecorder | None = None
        if settings.recorder.enabled:
            rec = settings.recorder
            self.recorder = SessionRecorder(
                settings.data_dir / "sessions", lambda: self.learner.state(waiting=True),
                max_bytes=rec.max_session_mb * 2**20, keep_sessions=rec.keep_sessions, audio=rec.audio,
                max_audio_bytes=rec.max_audio_mb * 2**20,
                on_problem=lambda err: self.set_problem("recorder", err and f"session recording stopped: {err}"))
            self.bus.subscribe(self.recorder)  # before the learner: an event is written before what it caused
        self.bus.subscribe(self.learner)
        conv = settings.conversation
        self.base_endpoint = EndpointSettings(silence_ms=conv.silence_ms, max_ms=conv.max_speech_ms,
                                              command_silence_ms=conv.command_silence_ms)
        self.services = TurnServices(
            bus=self.bus, stt=loaded.stt, tts=loaded.tts, llm=loaded.llm, skills=Skills(self.timers),
            settings=TurnSettings(system_prompt=conv.system_prompt, history_turns=conv.history_turns,
                                  endpoint=self.base_endpoint, early_stt_ms=conv.speculative_stt_ms,
                                  first_clause_words=conv.first_clause_words,
                                  doubt=DoubtSettings(min_avg_logprob=conv.unsure_logprob,
                                                      max_no_speech_prob=conv.no_speech_prob)),
            style_for=self.learner.style_for, facts=self.memory.statements, on_user_text=self._user_said,
            on_turn_audio=self._keep_turn_audio, speculative_llm=conv.speculative_answer,
        )
        self.sessions: dict[str, SatelliteSession] = {}
        self.topics = Topics(settings.mqtt.root)
        # With several hubs each has its own last will: a lease is valid while its hub's says online.
        self.link = MqttLink(settings.mqtt, f"hearth-hub-{settings.hub_id}",
                             availability_topic=self.topics.hub_availability(settings.hub_id) if settings.hubs.ownership
                             else self.topics.hub(HubTopic.AVAILABILITY))
        self.ownership: Ownership | None = None
        if settings.hubs.ownership and settings.mqtt.enabled:
            self.ownership = Ownership(
                self.link, self.topics, settings.hub_id, settings.hubs,
                on_owned=lambda satellite, uri: self.add_satellite(uri, expected_id=satellite),
                on_lost=lambda satellite, uri: self.run_transient(self._drop_link(uri), f"let-go-{satellite}"),
                grace_s=2.0 * settings.mqtt.keepalive_s)
        self.bridge = HubBridge(self.link, self)
        self.ha = HaDiscovery(self.link, self)
        self.home = self._home_control()
        self.bus.subscribe(self._ring_missed_timers)
        self.bus.subscribe(self._on_link_event)
        self.arbiter = Arbiter(conv.arbitration_window_ms, publish=self.bridge.arbitration,
                               preference=self.learner.room_preference,
                               contenders=lambda: sum(1 for s in self.sessions.values() if s.connected))
        self.timeline = TurnTimeline(self.bridge.turn_report)
        self.bus.subscribe(self.timeline)
        self._links: dict[str, Any] = {}
        self._link_tasks: dict[str, asyncio.Task[None]] = {}
        self._announced: dict[str, str] = {}
        """Satellite id -> the Wyoming address it announced (one live link per announcing satellite)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._transient: set[asyncio.Task[None]] = set()
        """Commands that take a while (an announcement until it is played): cancelled on close."""
        self._timer_tasks: set[asyncio.Task[int]] = set()
        """Ringing timers that finished while their satellite was away, once it is back."""
        self._started = time.time()
        self._status = "starting"
        self.ready = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def start(self) -> None:
        from hub.adapters.wyoming_service import WyomingService

        # Ports first: a second hub started by mistake must fail here, before it joins MQTT (same
        # login: it would take the running hub's session) or connects to a satellite.
        if self.settings.wyoming.enabled:
            self.wyoming = WyomingService(self.settings.wyoming, self.models)
            try:
                await self.wyoming.start()
            except OSError as err:
                raise StartupError(f"cannot listen for Wyoming on {self.settings.wyoming.host}:"
                                   f"{self.settings.wyoming.port}: {err.strerror or err} (is another hub running?)"
                                   ) from None
        if self.settings.metrics_port:
            from hub.adapters.metrics import start_metrics_server

            try:
                start_metrics_server(self, self.settings.metrics_host, self.settings.metrics_port)
            except OSError as err:
                raise StartupError(f"cannot serve /metrics on {self.settings.metrics_host}:"
                                   f"{self.settings.metrics_port}: {err.strerror or err} (is another hub running?)"
                                   ) from None
        if self.settings.mqtt.enabled:
            self._spawn(self.link.run(), "mqtt")
        if self.ownership is not None:
            self._spawn(self.ownership.run(), "ownership")
        if self.home_assistant is not None:
            self._spawn(self.home_assistant.run(), "home-assistant")
        for entry in self.registry.entries:
            if entry.uri and self.registry.driver(entry.id, entry.uri) is SatelliteDriver.HUB:
                self.add_satellite(entry.uri, expected_id=entry.id)
        self._save_learning(self.learner.state())  # from the first minute on, the state on disk is whole
        self.timers.restore()  # timers of the last run go on; one that ended meanwhile rings when its satellite is here
        for pool in self.models.pools:
            self._spawn(pool.run(), f"{pool.kind}-servers")
        self._spawn(self._publish_metrics(), "hub-metrics")
        self._spawn(feed_watchdog(lambda: True), "watchdog")
        self._status = "ready"
        self.publish_state()
        self.ready.set()
        notify("READY=1\nSTATUS=models loaded, serving")
        _LOGGER.info("hub ready: %d satellite address(es) configured", len(self.settings.satellites))

    async def close(self) -> None:
        self._status = "stopping"
        self.publish_state()
        notify("STOPPING=1")
        self.ha.close()
        for task in list(self._transient):
            task.cancel()
        await asyncio.gather(*self._transient, return_exceptions=True)
        for session in list(self.sessions.values()):
            await session.close()
        await self.timers.close()
        for task in list(self._timer_tasks):
            task.cancel()
        await asyncio.gather(*self._timer_tasks, return_exceptions=True)
        if getattr(self, "wyoming", None) is not None:
            await self.wyoming.close()
        self.learner.flush()
        if self.recorder is not None:
            self.recorder.close()
        # Give the MQTT link a moment to send the final state before its task is cancelled.
        if self.ownership is not None:  # links closed first, so the next owner is not refused as a second driver
            for uri in list(self._links):
                await self._drop_link(uri)
            self.ownership.release_all()
        if self.link.connected.is_set():
            await self.link.flush(1.0)
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

    # -- satellites ----------------------------------------------------------------------
    def add_satellite(self, uri: str, expected_id: str | None = None, *, take_over: bool = False) -> None:
        from hub.adapters.satellite_link import SatelliteLink

        if uri in self._links:
            return
        if self.registry.driver(expected_id, uri) is not SatelliteDriver.HUB:
            return  # Home Assistant drives it: the hub never dials it, whoever asks (a lease, an announce)
        if self.ownership is not None and expected_id is not None and not self.ownership.want(expected_id, uri):
            return  # leased to another live hub, or being claimed: on_owned links it once it is ours
        def take_over_from_driver() -> None:
            assert expected_id is not None
            _LOGGER.warning("satellite %s is driven by another client: asking it to drop that one (take-over)",
                            expected_id)
            self.bridge.command_satellite(expected_id, TakeOverCommand(  # type: ignore[arg-type]
                command="take_over", sender=f"hub-{self.settings.hub_id}"))

        link = SatelliteLink(uri, self._session_for, self.arbiter, expected_id=expected_id,
                             take_over=take_over_from_driver if take_over and expected_id else None,
                             on_refused=lambda text: self._link_refused(expected_id, uri, text))
        self._links[uri] = link
        self._link_tasks[uri] = self._spawn(link.run(), f"satellite-{uri}")

    async def _drop_link(self, uri: str) -> None:
        self._links.pop(uri, None)
        task = self._link_tasks.pop(uri, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            with contextlib.suppress(ValueError):
                self._tasks.remove(task)

    async def learn_satellite(self, announce: SatelliteAnnounce) -> None:
        """An announce (its id already checked against its topic): connect to where it says it listens.

        One link per announcing satellite: a new address replaces the old link (no reconnect loop is
        left behind), an address another satellite owns is refused, and at most
        :data:`MAX_ANNOUNCED_SATELLITES` are learned.
        """
        satellite, uri = announce.satellite, announce.wyoming_uri
        self.registry.learn(announce)
        if self.registry.driver(satellite, uri) is not SatelliteDriver.HUB:
            await self.release_satellite(satellite)  # Home Assistant drives it: entities only
            uri = ""
        previous = self._announced.get(satellite)
        configured = {e.uri for e in self.registry.entries} | {
            u for u, link in self._links.items() if link.session is not None and link.session.id == satellite}
        if uri and uri != previous and uri not in configured:  # configured: already linked
            owner = next((s for s, u in self._announced.items() if u == uri), None)
            if owner is not None and owner != satellite:
                _LOGGER.warning("satellite %s announced %s, where %s is: ignored", satellite, uri, owner)
            elif previous is None and len(self._announced) >= MAX_ANNOUNCED_SATELLITES:
                _LOGGER.warning("satellite %s announced itself, but %d announced satellites is the limit: ignored",
                                satellite, MAX_ANNOUNCED_SATELLITES)
            else:
                if previous is not None:
                    _LOGGER.info("satellite %s moved from %s to %s", satellite, previous, uri)
                    await self._drop_link(previous)
                else:
                    _LOGGER.info("satellite %s announced itself at %s", satellite, uri)
                self._announced[satellite] = uri
                self.add_satellite(uri, expected_id=satellite)
        session = self.sessions.get(announce.satellite)
        if session is not None:
            session.name, session.area = announce.name, announce.area

    def _session_for(self, satellite_id: str, info: Info | None) -> SatelliteSession:
        session = self.sessions.get(satellite_id)
        if session is None:
            name = info.satellite.name if info and info.satellite else satellite_id
            area = info.satellite.area if info and info.satellite and info.satellite.area else satellite_id
            session = SatelliteSession(satellite_id, self.services, name=name, area=area,
                                       command_satellite=self.bridge.command_satellite,
                                       history=self._stored(lambda: self.memory.context(satellite_id), list[tuple[str, str]]()),
                                       on_remember=lambda user, spoken: self._stored(
                                           lambda: self.memory.remember_turn(satellite_id, user, spoken), None))
            self.sessions[satellite_id] = session
        self.apply_learned(session)
        return session

    @property
    def satellite_links(self) -> int:
        """Satellite connection tasks alive (configured plus announced)."""
        return sum(1 for task in self._link_tasks.values() if not task.done())

    def targets(self, target: str) -> list[SatelliteSession]:
        chosen = self.sessions.values() if target == ALL_SATELLITES else [self.sessions.get(target)]
        return [s for s in chosen if s is not None and s.connected]

    def known_satellites(self) -> set[str]:
        """Every satellite Home Assistant should see: configured, announced, connected, or handed over."""
        return self.registry.known_ids() | set(self.sessions)

    async def release_satellite(self, satellite: str) -> None:
        """Close every hub link to ``satellite`` (Home Assistant drives it now)."""
        uris = {u for u, link in self._links.items() if link.session is not None and link.session.id == satellite}
        uris |= {u for u in (self._announced.pop(satellite, None), self.registry.uri_of(satellite)) if u in self._links}
        for uri in uris:
            _LOGGER.info("satellite %s is driven by Home Assistant: the hub closes its link to %s", satellite, uri)
            await self._drop_link(uri)

    def _link_refused(self, satellite: str | None, uri: str, text: str) -> None:
        """A satellite the hub should drive refuses it: another client (Home Assistant?) holds it."""
        satellite = satellite or next((s for s, u in self.registry.uris.items() if u == uri), None)
        who = satellite or uri
        problem = (f"satellite {who} refuses the hub ({text}): hand it to Home Assistant (its 'Driven by' "
                   "select) or take it over (driver command with take_over)")
        if self.link_problems.get(who) != problem:
            self.link_problems[who] = problem
            self.set_problem(f"satellite {who}", problem)
            if satellite is not None:
                self.ha.publish_link(satellite)

    def clear_link_problem(self, satellite: str) -> None:
        if self.link_problems.pop(satellite, None) is not None:
            self.set_problem(f"satellite {satellite}", None)

    def _on_link_event(self, event: ConversationEvent) -> None:
        if event.kind is EventKind.SATELLITE_CONNECTED:
            self.clear_link_problem(event.satellite)
            self.clear_link_problem(str(event.data.get("uri")))
            self.registry.uris.setdefault(event.satellite, str(event.data.get("uri")))
            if self.registry.driver(event.satellite) is not SatelliteDriver.HUB:
                self.run_transient(self.release_satellite(event.satellite), f"release-{event.satellite}")
        if event.kind in (EventKind.SATELLITE_CONNECTED, EventKind.SATELLITE_DISCONNECTED):
            self.ha.publish_link(event.satellite)

    async def drive_satellite(self, satellite: str, uri: str, *, take_over: bool = False) -> Any:
        """Link to ``satellite`` at ``uri`` (a fresh link when taking over); returns the SatelliteLink."""
        existing = self._links.get(uri)
        if existing is not None and not take_over:
            return existing
        if existing is not None:
            await self._drop_link(uri)
        if satellite in self.registry.announced:
            self._announced[satellite] = uri
        self.add_satellite(uri, expected_id=satellite, take_over=take_over)
        return self._links[uri]

    def run_transient(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._transient.add(task)
        task.add_done_callback(self._transient.discard)

    async def announce(self, satellite_ids: list[str], text: str) -> Announcement:
        """Start speaking ``text`` on each satellite; ``await (...).outcome()`` says whether each played it."""
        announcement = Announcement(self.bus)
        for satellite_id in satellite_ids:
            session = self.sessions[satellite_id]
            turn = session.new_turn(announce=text)
            announcement.add(turn.turn_id, satellite_id)
            await session.start(turn, barge_reason=InterruptReason.HUB)
        return announcement

    async def _timer_finished(self, timer: Timer) -> bool:
        """Ring on the timer's satellite (its chime) and say which timer it was; False if it is away."""
        session = self.sessions.get(timer.satellite)
        if session is None or not session.connected:
            return False
        await session.timer_finished(timer)
        await session.start(session.new_turn(announce=f"{timer_label(timer).capitalize()} is done."),
                            barge_reason=InterruptReason.HUB)
        return True

    def _ring_missed_timers(self, event: ConversationEvent) -> None:
        if event.kind is EventKind.SATELLITE_CONNECTED and self.timers.has_missed(event.satellite):
            task = asyncio.create_task(self.timers.ring_missed(event.satellite), name=f"missed-timers-{event.satellite}")
            self._timer_tasks.add(task)
            task.add_done_callback(self._timer_tasks.discard)

    def _home_control(self) -> HomeControl:
        """Every way of reaching devices that the settings ask for, behind one :class:`HomeControl`."""
        backends: list[HomeBackend] = []
        if self.settings.mqtt.enabled and self.settings.mqtt_devices.enabled:
            backends.append(MqttDevices(self.link, self.settings.mqtt_devices.discovery_prefix))
        # Home Assistant's websocket link (hub/home/home_assistant.py); its task is started in start().
        self.home_assistant = (HomeAssistantBackend(self.settings.home_assistant)
                               if self.settings.home_assistant.enabled else None)
        if self.home_assistant is not None:
            backends.append(self.home_assistant)
            # The link's state is reported on hub/state (a problem while down) and /metrics.
            self.home_assistant.add_link_listener(lambda up, error: self.set_problem(
                "home_assistant", None if up or error is None or error.code == "ha_stopped"
                else f"Home Assistant: {error} ({error.code})"))
        home = HomeControl(backends, self.settings.home, self.bus)
        self.services.skills.home = home
        if self.home_assistant is not None and self.settings.home_assistant.assist_fallback:
            ha = self.home_assistant
            self.services.skills.assist = lambda text: ha.process_conversation(text, "en")
        self.services.matcher = IntentMatcher(home.entities)
        self.services.answers.home = HomeContext(home.entities, home.state)  # device states for the LLM's prompt
        return home

    # -- memory and learning -------------------------------------------------------------
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

    def _learning_change(self, room: str, parameter: str, value: float) -> None:
        for session in self.sessions.values():
            if session.area == room:
                self._tune(session, {parameter: value})

    def apply_learned(self, session: SatelliteSession) -> None:
        """Give a (re)connected satellite what its room has learned (defaults are left to its own config)."""
        if session.area in self.learner.rooms:
            specs = self.learner.parameters
            learned = {p: v for p, v in self.learner.values(session.area).items() if p in specs and v != specs[p].default}
            if learned:
                self._tune(session, learned)

    def _tune(self, session: SatelliteSession, values: dict[str, float]) -> None:
        windows = {field: int(values[p]) for p, field in ((END_OF_SPEECH, "silence_ms"),
                                                           (COMMAND_WINDOW, "command_silence_ms")) if p in values}
        if windows:  # the hub's own end of speech; each learned window keeps the other's value
            session.endpoint = dataclasses.replace(session.endpoint or self.base_endpoint, **windows)
        if END_OF_SPEECH not in values and WAKE_THRESHOLD not in values:
            return  # the command window is the hub's alone: nothing to tell the satellite
        self.bridge.command_satellite(session.id, TuneCommand(
            command="tune", sender=f"hub-{self.settings.hub_id}",
            wake_threshold=values.get(WAKE_THRESHOLD),
            end_of_speech_silence_ms=int(values[END_OF_SPEECH]) if END_OF_SPEECH in values else None,
        ))

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

    def set_problem(self, key: str, problem: str | None) -> None:
        """Report (or clear) something wrong on hub/state; logged once per change."""
        if self.problems.get(key) == problem:
            return
        if problem is None:
            del self.problems[key]
            _LOGGER.info("resolved: %s", key)
        else:
            self.problems[key] = problem
            _LOGGER.error("%s", problem)
        self.publish_state()

    # -- state and metrics ---------------------------------------------------------------
    def publish_state(self) -> None:
        status = "degraded" if self.problems and self._status == "ready" else self._status
        self.link.publish(self.topics.hub(HubTopic.STATE), HubState(
            status=status,  # type: ignore[arg-type]
            models=self.models.status, satellites=sorted(s.id for s in self.sessions.values() if s.connected),
            software=f"hearth-hub {__version__}", problems=list(self.problems.values()),
        ), retain=True)

    def metrics(self) -> HubMetrics:
        process = psutil.Process()
        return HubMetrics(
            stt_queue_depth=self.models.stt.queue_depth,
            active_turns=sum(1 for s in self.sessions.values() if s.busy),
            satellites_connected=sum(1 for s in self.sessions.values() if s.connected),
            turns_total=self.timeline.total,
            rss_mb=round(process.memory_info().rss / 2**20, 1),
            cpu_percent=process.cpu_percent(),
            audio_dropped_total=sum(getattr(link.peer, "audio_dropped", 0) for link in self._links.values()
                                    if link.peer is not None),
        )

    async def _publish_metrics(self, every_s: float = 10.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            # QoS 0: the next one comes soon, and a QoS 1 delivery costs the broker a store write.
            self.link.publish(self.topics.hub(HubTopic.METRICS), self.metrics(), qos=0)
            for pool in self.models.pools:  # a model server that is out is a problem on hub/state until it is back
                self.set_problem(f"{pool.kind}-servers", None if pool.healthy_count == len(pool.servers)
                                 else f"{pool.kind} servers: {pool.describe()}")


def _private_dir(path: Any) -> None:
    """Memory, transcripts and recordings are the household's: the data folder is the hub user's only."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as err:  # e.g. a folder owned by someone else: the Store reports what matters
        _LOGGER.warning("could not make %s private (mode 0700): %s", path, err)
