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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from hub.home.ha_registry import HaRegistries
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


class _Rejected(HomeError):
    """HA answered a command with an error; ``ha_code`` is HA's own code (not_found, unknown_command...)."""

    def __init__(self, ha_code: str, message: str) -> None:
        super().__init__("ha_rejected", f"Home Assistant refused it ({ha_code}): {message}")
        self.ha_code = ha_code


class HomeAssistantBackend:
    source = HomeSource.HOME_ASSISTANT

    def __init__(self, settings: HomeAssistantSettings) -> None:
        self.settings = settings
        self.ha_version: str | None = None
        self.last_error: HomeError | None = None
        self._available = False
        self._entities: dict[str, Entity] = {}
        self._states: dict[str, EntityState] = {}
        self._listeners: list[StateListener] = []
        self._link_listeners: list[LinkListener] = []
        self._registries = HaRegistries()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
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
            await _cancel_and_wait(self._task)
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
        return tuple(self._entities.values())

    def state(self, entity_id: str) -> EntityState | None:
        return self._states.get(entity_id)

    def subscribe(self, listener: StateListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def add_link_listener(self, listener: LinkListener) -> Callable[[], None]:
        """``listener(available, last_error)`` on every link change (for MQTT status and /metrics)."""
        self._link_listeners.append(listener)
        return lambda: self._link_listeners.remove(listener) if listener in self._link_listeners else None

    async def call(self, action: Action) -> None:
        """Run the service on the entity. HA answers once the service has run (its websocket
        call_service waits for that); a device slower than ``timeout_s`` gives ``ha_timeout``."""
        if not self._available:
            raise self._link_error()
        entity = self._entities.get(action.entity_id)
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
                await _cancel_and_wait(self._refresh_task)
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
        token = await asyncio.to_thread(self._read_token)
        timeout = self.settings.timeout_s
        ws = await asyncio.wait_for(session.ws_connect(
            self.settings.websocket_url, heartbeat=30, ssl=self.settings.verify_tls,
            max_msg_size=_MAX_MESSAGE_BYTES), timeout)
        async with ws:
            hello = await ws.receive_json(timeout=timeout)
            if hello.get("type") == "auth_required":
                await ws.send_json({"type": "auth", "access_token": token})
                hello = await ws.receive_json(timeout=timeout)
            if hello.get("type") != "auth_ok":
                raise HomeError("ha_auth_invalid", f"Home Assistant refused the access token in "
                                                   f"{self.settings.token_file}: {hello.get('message', hello)}")
            self.ha_version = hello.get("ha_version")
            self._ws = ws
            reader = asyncio.create_task(self._read(ws), name="home-assistant-reader")
            try:
                await self._command({"type": "subscribe_events", "event_type": "state_changed"}, connected=True)
                for event_type in _REGISTRY_EVENTS:
                    try:
                        await self._command({"type": "subscribe_events", "event_type": event_type}, connected=True)
                    except _Rejected as err:
                        # A non-admin token may not follow the registries: the home is then read once per link.
                        _LOGGER.warning("cannot follow %s: %s", event_type, err)
                await self._sync()
                _LOGGER.info("Home Assistant %s connected: %d entities", self.ha_version, len(self._entities))
                self._synced.set()
                self._set_link(True, None)
                await reader
            finally:
                self._ws = None
                await _cancel_and_wait(reader)

    def _read_token(self) -> str:
        path = self.settings.token_file
        try:
            token = path.read_text().strip() if path else ""
        except OSError as err:
            raise HomeError("ha_token_missing", f"cannot read the Home Assistant token file {path}: {err}") from err
        if not token:
            raise HomeError("ha_token_missing", f"the Home Assistant token file {path} is empty")
        return token

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    payload = message.json()
                    for item in payload if isinstance(payload, list) else [payload]:
                        self._dispatch(item)
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    # One odd message must not cost the link (and every pending command with it).
                    _LOGGER.warning("unreadable message from Home Assistant skipped (%s): %.200s", err, message.data)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HomeError("ha_disconnected", "the Home Assistant link dropped"))

    def _dispatch(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "result":
            future = self._pending.get(message.get("id", -1))
            if future is None or future.done():
                return
            if message.get("success"):
                future.set_result(message.get("result"))
            else:
                error = message.get("error") or {}
                future.set_exception(_Rejected(str(error.get("code")), str(error.get("message"))))
        elif message.get("type") == "event":
            event = message.get("event", {})
            if event.get("event_type") == "state_changed":
                new_state = event.get("data", {}).get("new_state")
                if new_state is not None:
                    self._apply_state(new_state)
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
        ws = self._ws
        if ws is None or ws.closed or not (connected or self._available):
            raise self._link_error()
        self._next_id += 1
        number = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        try:
            await ws.send_json({"id": number, **message})
            return await asyncio.wait_for(future, self.settings.timeout_s)
        except TimeoutError:
            raise HomeError("ha_timeout", f"Home Assistant did not answer {message['type']} within "
                                          f"{self.settings.timeout_s:g} s") from None
        except (aiohttp.ClientError, ConnectionError) as err:
            raise HomeError("ha_disconnected", f"the Home Assistant link dropped: {err}") from err
        finally:
            self._pending.pop(number, None)

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
        async def optional(kind: str) -> Any:
            try:
                return await self._command({"type": kind}, connected=True)
            except _Rejected as err:
                if err.ha_code != "unknown_command":
                    raise
                return None

        areas = await self._command({"type": "config/area_registry/list"}, connected=True)
        floors = await optional("config/floor_registry/list") or []
        devices = await self._command({"type": "config/device_registry/list"}, connected=True)
        registry = await self._command({"type": "config/entity_registry/list"}, connected=True)
        exposure = await optional("homeassistant/expose_entity/list")
        states = await self._command({"type": "get_states"}, connected=True)
        ids = [e["entity_id"] for e in registry if not e.get("disabled_by")]
        extended = await self._command({"type": "config/entity_registry/get_entries", "entity_ids": ids},
                                       connected=True) if ids else {}
        self._registries = HaRegistries.parse(areas=areas, floors=floors, devices=devices, entries=registry,
                                              extended=extended, exposure=exposure)
        fresh = {s["entity_id"] for s in states}
        for gone in set(self._states) - fresh:
            self._states.pop(gone, None)
            self._entities.pop(gone, None)
        for state in states:
            self._apply_state(state)

    def _apply_state(self, raw: Mapping[str, Any]) -> None:
        entity_id = raw["entity_id"]
        state = EntityState(entity_id, str(raw.get("state")), dict(raw.get("attributes") or {}))
        previous = self._states.get(entity_id)
        self._states[entity_id] = state
        entity = self._registries.entity(state)
        if entity is None:
            self._entities.pop(entity_id, None)
        else:
            self._entities[entity_id] = entity
        if previous == state:
            return
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                _LOGGER.exception("state listener failed for %s", entity_id)


async def _cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it; a cancellation of the caller itself still propagates."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:
        _LOGGER.exception("%s failed", task.get_name())
