"""Home Assistant as a :class:`~hub.home.model.HomeBackend`: one websocket to HA's API.

The link task connects, authenticates with the long-lived token read from ``token_file`` (re-read on
every attempt, so a new token needs no restart), subscribes to ``state_changed`` and the registry
events, then reads the area, floor, device and entity registries, what is exposed to Assist and every
state. It reconnects with exponential backoff (``reconnect_min_s`` doubling to ``reconnect_max_s``,
back to the minimum after a link that synced). While the link is down ``available`` is False,
``last_error`` says why and every call raises that error.

Error codes (:class:`HomeError` ``code``): ``ha_token_missing``, ``ha_auth_invalid`` (HA refused the
token), ``ha_unreachable`` (no connection), ``ha_unavailable`` (not connected yet), ``ha_disconnected``
(the link dropped under a command), ``ha_protocol`` (HA said something unexpected), ``ha_timeout``
(no answer within ``timeout_s``), ``ha_rejected`` (HA refused the command; its own code and message
follow), ``unknown_entity``, ``not_exposed``; the link's last error after ``stop`` is ``ha_stopped``.

The owner runs :meth:`HomeAssistantBackend.run` as a task (or uses ``start``/``stop``/``async with``)
and reports the link from ``available``, ``last_error``, ``ha_version`` and ``add_link_listener``.

Older HA lacks some commands: without floors every ``floor`` is None; without
``homeassistant/expose_entity/list`` (before 2023.5) every entity counts as exposed.

The parts: :mod:`hub.home.ha_websocket` (auth, numbered commands and results on one connection),
:mod:`hub.home.ha_states` (reading the registries and following states); this module owns the link's
lifecycle and the :class:`~hub.home.model.HomeBackend` port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from hub.home.ha_states import HaHome, read_home
from hub.home.ha_websocket import CommandChannel, HaRejected, authenticate, cancel_and_wait, read_token
from hub.home.model import Action, Entity, EntityState, HomeError, HomeSource, StateListener
from hub.home.settings import HomeAssistantSettings

_LOGGER = logging.getLogger(__name__)

LinkListener = Callable[[bool, "HomeError | None"], None]
_REGISTRY_EVENTS = ("area_registry_updated", "device_registry_updated", "entity_registry_updated",
                    "floor_registry_updated")
_REFRESH_DELAY_S = 0.3
"""Registry events come in bursts (one per entity); one refresh after the burst."""
_NOT_UNDERSTOOD = {"no_intent_match", "no_valid_targets"}
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""get_states of a large home is several MB; a bound all the same."""


class HomeAssistantBackend:
    source = HomeSource.HOME_ASSISTANT

    def __init__(self, settings: HomeAssistantSettings) -> None:
        self.settings = settings
        self.ha_version: str | None = None
        self.last_error: HomeError | None = None
        self._available = False
        self._home = HaHome()
        self._link_listeners: list[LinkListener] = []
        self._channel: CommandChannel | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the link in a task of its own (:meth:`stop` ends it); or have the owner run :meth:`run`."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="home-assistant-link")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def __aenter__(self) -> HomeAssistantBackend:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_available(self, timeout: float) -> bool:
        """True once connected and synced, False if that did not happen within ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._synced.wait(), timeout)
        return self._available

    # -- the port ------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._available

    def entities(self) -> Sequence[Entity]:
        return self._home.entities()

    def state(self, entity_id: str) -> EntityState | None:
        return self._home.state(entity_id)

    def subscribe(self, listener: StateListener) -> Callable[[], None]:
        return self._home.subscribe(listener)

    def add_link_listener(self, listener: LinkListener) -> Callable[[], None]:
        """``listener(available, last_error)`` on every link change (for MQTT status and /metrics)."""
        self._link_listeners.append(listener)
        return lambda: self._link_listeners.remove(listener) if listener in self._link_listeners else None

    async def call(self, action: Action) -> None:
        """Run the service on the entity. HA answers once the service has run (its websocket
        call_service waits for that); a device slower than ``timeout_s`` gives ``ha_timeout``."""
        if not self._available:
            raise self._link_error()
        entity = self._home.entity(action.entity_id)
        if entity is None:
            raise HomeError("unknown_entity", f"Home Assistant has no entity {action.entity_id}")
        if not entity.exposed:
            raise HomeError("not_exposed", f"{entity.name} ({entity.entity_id}) is not exposed to Assist")
        await self._command({"type": "call_service", "domain": entity.domain, "service": action.service,
                             "service_data": dict(action.data), "target": {"entity_id": entity.entity_id}})

    async def process_conversation(self, text: str, language: str, conversation_id: str | None = None) -> str | None:
        """HA's Assist answer to ``text``; None when Assist did not understand it.

        Not understood: no sentence matched, or one matched but names nothing in the home ("what is
        the meaning of life" reads as a state question about a device called "meaning of life"); such
        text is better left to the language model than answered "I am not aware of any device called...".
        """
        message: dict[str, Any] = {"type": "conversation/process", "text": text, "language": language}
        if conversation_id:
            message["conversation_id"] = conversation_id
        result = await self._command(message)
        response = result.get("response", {})
        if response.get("response_type") == "error" and response.get("data", {}).get("code") in _NOT_UNDERSTOOD:
            return None
        speech = response.get("speech", {}).get("plain", {}).get("speech")
        return str(speech) if speech else None

    # -- the link ------------------------------------------------------------------------------

    async def run(self) -> None:
        """The link, for ever: connect, sync, follow; reconnect with backoff. Cancel to stop."""
        delay = self.settings.reconnect_min_s
        try:
            await self._link_loop(delay)
        finally:
            if self._refresh_task is not None:
                await cancel_and_wait(self._refresh_task)
                self._refresh_task = None
            self._synced.clear()
            self._set_link(False, HomeError("ha_stopped", "the hub stopped its Home Assistant link"))

    async def _link_loop(self, delay: float) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._serve(session)
                    error = HomeError("ha_disconnected", "Home Assistant closed the connection")
                except HomeError as err:
                    error = err
                except (aiohttp.ClientError, OSError, TimeoutError) as err:
                    error = HomeError("ha_unreachable", f"cannot reach Home Assistant at {self.settings.url}: "
                                                        f"{err or type(err).__name__}")
                except Exception as err:
                    _LOGGER.exception("Home Assistant link failed")
                    error = HomeError("ha_protocol", f"unexpected answer from Home Assistant: {err!r}")
                if self._synced.is_set():
                    delay = self.settings.reconnect_min_s
                self._synced.clear()
                # Once per kind of failure at warning level: HA away for an hour is not 60 warnings.
                repeated = self.last_error is not None and str(self.last_error) == str(error)
                self._set_link(False, error)
                _LOGGER.log(logging.DEBUG if repeated else logging.WARNING,
                            "Home Assistant link down (%s): %s; retrying in %.1f s", error.code, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _serve(self, session: aiohttp.ClientSession) -> None:
        token = await asyncio.to_thread(read_token, self.settings.token_file)
        timeout = self.settings.timeout_s
        ws = await asyncio.wait_for(session.ws_connect(
            self.settings.websocket_url, heartbeat=30, ssl=self.settings.verify_tls,
            max_msg_size=_MAX_MESSAGE_BYTES), timeout)
        async with ws:
            self.ha_version = await authenticate(ws, token, self.settings.token_file, timeout)
            channel = self._channel = CommandChannel(ws, timeout)
            reader = asyncio.create_task(channel.read(self._on_event), name="home-assistant-reader")
            try:
                await self._command({"type": "subscribe_events", "event_type": "state_changed"}, connected=True)
                for event_type in _REGISTRY_EVENTS:
                    try:
                        await self._command({"type": "subscribe_events", "event_type": event_type}, connected=True)
                    except HaRejected as err:
                        # A non-admin token may not follow the registries: the home is then read once per link.
                        _LOGGER.warning("cannot follow %s: %s", event_type, err)
                await self._sync()
                _LOGGER.info("Home Assistant %s connected: %d entities", self.ha_version, len(self._home))
                self._synced.set()
                self._set_link(True, None)
                await reader
            finally:
                self._channel = None
                await cancel_and_wait(reader)

    def _on_event(self, event: Mapping[str, Any]) -> None:
        if event.get("event_type") == "state_changed":
            new_state = event.get("data", {}).get("new_state")
            if new_state is not None:
                self._home.apply_state(new_state)
        elif (event.get("event_type") in _REGISTRY_EVENTS and self._synced.is_set()
              and (self._refresh_task is None or self._refresh_task.done())):
            self._refresh_task = asyncio.create_task(self._refresh(), name="home-assistant-refresh")

    def _link_error(self) -> HomeError:
        """Why nothing can be sent now: the link's last failure, so callers can say what is wrong."""
        if self.last_error is not None and self.last_error.code not in ("ha_disconnected", "ha_unavailable",
                                                                         "ha_stopped"):
            return HomeError(self.last_error.code, str(self.last_error))
        return HomeError("ha_unavailable", "not connected to Home Assistant")

    async def _command(self, message: dict[str, Any], *, connected: bool = False) -> Any:
        """Send one command and wait for its result; ``connected`` allows it before the first sync."""
        channel = self._channel
        if channel is None or channel.closed or not (connected or self._available):
            raise self._link_error()
        return await channel.command(message)

    def _set_link(self, available: bool, error: HomeError | None) -> None:
        changed = available != self._available or (error is not None and str(error) != str(self.last_error))
        self._available = available
        self.last_error = error
        if not changed:
            return
        for listener in list(self._link_listeners):
            try:
                listener(available, error)
            except Exception:
                _LOGGER.exception("Home Assistant link listener failed")

    # -- the home ------------------------------------------------------------------------------

    async def _refresh(self) -> None:
        await asyncio.sleep(_REFRESH_DELAY_S)
        try:
            await self._sync()
        except HomeError as err:
            _LOGGER.warning("re-reading Home Assistant's registries failed (%s): %s", err.code, err)

    async def _sync(self) -> None:
        registries, states = await read_home(lambda message: self._command(message, connected=True))
        self._home.replace(registries, states)
