"""The MQTT link both sides use: one task owns the connection and its reconnect loop.

- Publishes go through a bounded outbox, so a caller never blocks on the broker; while the
  broker is away they wait there (an overflow drops the oldest non-retained message, logged
  and counted, never silently).
- Retained messages (state, announce, discovery) are remembered and re-published on every
  reconnect, so a late monitor and a restarted broker both see the house as it is.
- The last will marks the device ``offline``; ``online`` is published on each connect.
- MQTT v5 with a persistent session (fixed client id, no clean start, session expiry), so
  QoS 1 commands sent while a device was away are delivered when it returns.
- Incoming payloads are decoded by ``protocol.codec``; a bad payload is logged with the
  reason and counted, and the handler never sees it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field

from protocol import codec
from protocol.payloads import Availability
from protocol.topics import DEFAULT_ROOT, Topics

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]
RawHandler = Callable[[str, bytes], Awaitable[None]]


class MqttSettings(BaseModel):
    """How to reach the MQTT broker."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port")
    username: str | None = Field(default=None, description="MQTT user name (this device's own)")
    password: str | None = Field(default=None, description="MQTT password (prefer --mqtt-password-file)")
    password_file: Path | None = Field(default=None, description="File whose first line is the MQTT password")
    tls: bool = Field(default=False, description="Connect with TLS")
    ca_file: Path | None = Field(default=None, description="CA certificate that signed the broker's, for TLS")
    root: str = Field(default=DEFAULT_ROOT, description="First level of every topic")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive, seconds")
    session_expiry_s: int = Field(
        default=86400, ge=0, description="How long the broker keeps this device's session and queued QoS 1 messages, seconds"
    )
    outbox_size: int = Field(default=1000, ge=10, description="Messages held while the broker is away")
    reconnect_max_s: float = Field(default=5.0, gt=0, description="Longest wait between reconnect attempts, seconds")
    enabled: bool = Field(default=True, description="Use MQTT at all")

    def resolved_password(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text().splitlines()[0].strip()
        return self.password


@dataclass
class LinkStats:
    published: int = 0
    received: int = 0
    rejected_payloads: int = 0
    dropped_outgoing: int = 0
    connects: int = 0
    rejected_by_topic: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outgoing:
    topic: str
    payload: bytes
    retain: bool
    qos: int


class MqttLink:
    """One device's connection to the broker. Run :meth:`run` as a task; it never returns."""

    def __init__(self, settings: MqttSettings, client_id: str, availability_topic: str | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.root)
        self.client_id = client_id
        self.stats = LinkStats()
        self.connected = asyncio.Event()
        self._availability_topic = availability_topic
        self._handlers: list[tuple[str, Handler | None, RawHandler | None, int]] = []
        self._retained: dict[str, bytes] = {}
        self._outbox: collections.deque[_Outgoing] = collections.deque()
        self._outbox_ready = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self._on_connect: list[Callable[[], Awaitable[None]]] = []
        self._client: aiomqtt.Client | None = None

    # -- configuration (before or while running) ---------------------------
    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Deliver decoded payloads on ``topic_filter`` to ``handler(topic, model)``."""
        self._handlers.append((topic_filter, handler, None, qos))

    def subscribe_raw(self, topic_filter: str, handler: RawHandler, qos: int = 1) -> None:
        """Deliver raw bytes (for topics outside our tree, e.g. ``homeassistant/status``)."""
        self._handlers.append((topic_filter, None, handler, qos))

    def on_connect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` after every (re)connect, once subscriptions are in place."""
        self._on_connect.append(callback)

    # -- publishing ------------------------------------------------------------
    def publish(self, topic: str, message: BaseModel | Availability, *, retain: bool = False, qos: int = 1) -> None:
        """Queue ``message`` for ``topic``; never blocks. Retained ones are re-sent on reconnect."""
        self.publish_bytes(topic, codec.encode(message), retain=retain, qos=qos)

    def publish_bytes(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1) -> None:
        if retain:
            if payload:
                self._retained[topic] = payload
            else:
                self._retained.pop(topic, None)
        if len(self._outbox) >= self.settings.outbox_size:
            victim = next((m for m in self._outbox if not m.retain), self._outbox[0])
            self._outbox.remove(victim)
            self.stats.dropped_outgoing += 1
            _LOGGER.warning(
                "MQTT outbox full (%d): dropped a message for %s (%d dropped so far)",
                self.settings.outbox_size, victim.topic, self.stats.dropped_outgoing,
            )
        self._outbox.append(_Outgoing(topic, payload, retain, qos))
        self._outbox_ready.set()
        self._outbox_empty.clear()

    def forget_retained(self, topic: str) -> None:
        """Clear a retained topic on the broker too (e.g. a removed device's discovery)."""
        self.publish_bytes(topic, b"", retain=True)

    async def flush(self, timeout: float) -> bool:
        """Wait until everything queued has reached the broker; False if that took too long."""
        try:
            await asyncio.wait_for(self._outbox_empty.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @contextlib.asynccontextmanager
    async def running(self, connect_timeout: float = 10.0) -> AsyncIterator[MqttLink]:
        """Run the link for one block, connected on entry (``TimeoutError`` if the broker is unreachable)."""
        task = asyncio.create_task(self.run(), name=f"mqtt-{self.client_id}")
        try:
            await asyncio.wait_for(self.connected.wait(), connect_timeout)
            yield self
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- the task --------------------------------------------------------------
    async def run(self) -> None:
        delay = 0.2
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    delay = 0.2
                    await self._session(client)
            except aiomqtt.MqttError as err:
                _LOGGER.warning("MQTT %s:%d unavailable (%s); retrying in %.1f s",
                                self.settings.host, self.settings.port, err, delay)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _session(self, client: aiomqtt.Client) -> None:
        self.stats.connects += 1
        for topic_filter, _, _, qos in self._handlers:
            await client.subscribe(topic_filter, qos=qos)
        if self._availability_topic:
            await client.publish(self._availability_topic, codec.encode(Availability.ONLINE), qos=1, retain=True)
        for topic, payload in list(self._retained.items()):
            await client.publish(topic, payload, qos=1, retain=True)
        # Retained messages just went out with their latest value; queued copies are stale.
        self._outbox = collections.deque(m for m in self._outbox if not m.retain)
        self.connected.set()
        _LOGGER.info("MQTT connected to %s:%d as %s", self.settings.host, self.settings.port, self.client_id)
        for callback in self._on_connect:
            await callback()
        sender = asyncio.create_task(self._send_outbox(client), name=f"mqtt-send-{self.client_id}")
        try:
            async for message in client.messages:
                await self._dispatch(str(message.topic), bytes(message.payload or b""))
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        while True:
            await self._outbox_ready.wait()
            while self._outbox:
                item = self._outbox[0]
                try:
                    await client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
                except aiomqtt.MqttError:
                    raise  # the connection is going; the item stays queued for the next one
                except (ValueError, TypeError) as err:
                    _LOGGER.error("cannot publish to %r: %s; message dropped", item.topic, err)
                    self.stats.dropped_outgoing += 1
                # Removed only once the broker has it: a disconnect mid-send keeps it queued.
                if self._outbox and self._outbox[0] is item:
                    self._outbox.popleft()
                self.stats.published += 1
            self._outbox_ready.clear()
            self._outbox_empty.set()

    async def _dispatch(self, topic: str, payload: bytes) -> None:
        self.stats.received += 1
        for topic_filter, handler, raw_handler, _ in self._handlers:
            if not paho.topic_matches_sub(topic_filter, topic):
                continue
            try:
                if raw_handler is not None:
                    await raw_handler(topic, payload)
                    continue
                if not payload:
                    continue  # a cleared retained topic
                message = codec.decode(self.topics, topic, payload)
            except codec.PayloadError as err:
                self.stats.rejected_payloads += 1
                self.stats.rejected_by_topic[topic] = self.stats.rejected_by_topic.get(topic, 0) + 1
                _LOGGER.warning("rejected MQTT payload on %s (%s): %s", topic, err.code, err)
                continue
            try:
                assert handler is not None
                await handler(topic, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("handler for %s failed on a message from %s", topic_filter, topic)

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        will = None
        if self._availability_topic:
            will = aiomqtt.Will(self._availability_topic, codec.encode(Availability.OFFLINE), qos=1, retain=True)
        tls_context = None
        if s.tls:
            tls_context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.resolved_password(),
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            will=will,
            keepalive=s.keepalive_s,
            tls_context=tls_context,
            timeout=10,
        )
