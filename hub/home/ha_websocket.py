"""One authenticated websocket to Home Assistant's API: numbered commands and their results, events passed on.

A :class:`CommandChannel` lives as long as one connection: it numbers each command, waits for the
matching ``result`` (``timeout_s``) and hands every ``event`` message to the reader's callback. When the
connection drops, every command still waiting fails with ``ha_disconnected``. Error codes are those of
:mod:`hub.home.home_assistant`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from hub.home.model import HomeError

_LOGGER = logging.getLogger(__name__)

EventHandler = Callable[[Mapping[str, Any]], None]


class HaRejected(HomeError):
    """HA answered a command with an error; ``ha_code`` is HA's own code (not_found, unknown_command...)."""

    def __init__(self, ha_code: str, message: str) -> None:
        super().__init__("ha_rejected", f"Home Assistant refused it ({ha_code}): {message}")
        self.ha_code = ha_code


def read_token(path: Path | None) -> str:
    """The long-lived access token; read on every connection attempt, so a new token needs no restart."""
    try:
        token = path.read_text().strip() if path else ""
    except OSError as err:
        raise HomeError("ha_token_missing", f"cannot read the Home Assistant token file {path}: {err}") from err
    if not token:
        raise HomeError("ha_token_missing", f"the Home Assistant token file {path} is empty")
    return token


async def authenticate(ws: aiohttp.ClientWebSocketResponse, token: str, token_file: Path | None,
                       timeout_s: float) -> str | None:
    """HA's auth handshake; returns HA's version, or raises ``ha_auth_invalid``."""
    hello = await ws.receive_json(timeout=timeout_s)
    if hello.get("type") == "auth_required":
        await ws.send_json({"type": "auth", "access_token": token})
        hello = await ws.receive_json(timeout=timeout_s)
    if hello.get("type") != "auth_ok":
        raise HomeError("ha_auth_invalid", f"Home Assistant refused the access token in "
                                           f"{token_file}: {hello.get('message', hello)}")
    version = hello.get("ha_version")
    return str(version) if version is not None else None


class CommandChannel:
    """Commands and results on one connected websocket (one per connection: HA numbers per connection)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, timeout_s: float) -> None:
        self.ws = ws
        self.timeout_s = timeout_s
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def command(self, message: dict[str, Any]) -> Any:
        """Send one command and wait for its result (HA's ``result`` field)."""
        self._next_id += 1
        number = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        try:
            await self.ws.send_json({"id": number, **message})
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise HomeError("ha_timeout", f"Home Assistant did not answer {message['type']} within "
                                          f"{self.timeout_s:g} s") from None
        except (aiohttp.ClientError, ConnectionError) as err:
            raise HomeError("ha_disconnected", f"the Home Assistant link dropped: {err}") from err
        finally:
            self._pending.pop(number, None)

    async def read(self, on_event: EventHandler) -> None:
        """Until the connection closes: results to their commands, events to ``on_event``."""
        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    payload = message.json()
                    for item in payload if isinstance(payload, list) else [payload]:
                        self._dispatch(item, on_event)
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    # One odd message must not cost the link (and every pending command with it).
                    _LOGGER.warning("unreadable message from Home Assistant skipped (%s): %.200s", err, message.data)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HomeError("ha_disconnected", "the Home Assistant link dropped"))

    def _dispatch(self, message: Mapping[str, Any], on_event: EventHandler) -> None:
        if message.get("type") == "result":
            future = self._pending.get(message.get("id", -1))
            if future is None or future.done():
                return
            if message.get("success"):
                future.set_result(message.get("result"))
            else:
                error = message.get("error") or {}
                future.set_exception(HaRejected(str(error.get("code")), str(error.get("message"))))
        elif message.get("type") == "event":
            on_event(message.get("event", {}))


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
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
