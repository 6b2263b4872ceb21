"""The MQTT link both sides use: one task owns the connection and its reconnect loop.

- Publishes go through a bounded outbox, so a caller never blocks on the broker; while the
  broker is away they wait there (an overflow drops the oldest non-retained message that is
  not ``essential``, logged and counted, never silently). Up to :data:`SEND_WINDOW` QoS 1
  publishes are in flight at once, in order; a message leaves the outbox only once the broker
  has acknowledged it.
- Backpressure: while the outbox is nearly full, the next incoming message waits, so what a
  handler publishes in answer (a command's result) always has room.
- Retained messages (state, announce, discovery) are remembered and re-published on every
  reconnect, so a late monitor and a restarted broker both see the house as it is. A retained
  value still queued is replaced by a newer one for the same topic (the broker writes its store
  on every change).
- Availability tells the truth on every kind of stop: ``online`` on each connect, ``offline``
  published before a graceful disconnect (the task is cancelled), and the last will
  ``offline`` when the process dies without one.
- MQTT v5 with a persistent session (no clean start, session expiry), so QoS 1 commands sent
  while a device was away are delivered when it returns. The broker binds the session to the
  login (``use_username_as_clientid`` in mosquitto.conf), whatever ``client_id`` says.
- Incoming payloads are decoded by ``protocol.codec``; a bad payload is counted and logged
  (at most 5 lines per subscription per minute, then a count: :mod:`common.log_limit`), and
  the handler never sees it.
- Disabled (``enabled = false``): the link is inert. Publishes are dropped at once (no outbox, no
  "outbox full" after hours of metrics) and :meth:`run` never connects.
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
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import BaseModel, ConfigDict, Field

from common.log_limit import LogLimiter
from protocol import codec
from protocol.payloads import Availability
from protocol.topics import DEFAULT_ROOT, Topics

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]
RawHandler = Callable[[str, bytes], Awaitable[None]]

SEND_WINDOW = 32
"""QoS 1 publishes handed to the broker before the first of them is acknowledged."""


@dataclass(frozen=True)
class Delivery:
    """One incoming message as the broker delivered it (for handlers that need more than the payload)."""

    topic: str
    payload: bytes
    retain: bool
    """True for a retained message (also a live one: these subscriptions keep the publisher's flag)."""


DeliveryHandler = Callable[[Delivery], Awaitable[None]]



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
    outbox_size: int = Field(default=1000, ge=64, description="Messages held while the broker is away (and "
                                                            "while it is slower than we publish)")
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
    backpressure_waits: int = 0
    """Times an incoming message waited for room in the outbox."""
    rejected_by_topic: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outgoing:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    essential: bool = False


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
        self._delivery_handlers: list[tuple[str, DeliveryHandler, int, bool]] = []
        self._retained: dict[str, bytes] = {}
        self._outbox: collections.deque[_Outgoing] = collections.deque()
        self._unacked: collections.deque[tuple[_Outgoing, asyncio.Task[None]]] = collections.deque()
        self._outbox_ready = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._on_connect: list[Callable[[], Awaitable[None]]] = []
        self._client: aiomqtt.Client | None = None
        self.log_limiter = LogLimiter(_LOGGER)

    # -- configuration (before or while running) ---------------------------
    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Deliver decoded payloads on ``topic_filter`` to ``handler(topic, model)``."""
        self._handlers.append((topic_filter, handler, None, qos))

    def subscribe_raw(self, topic_filter: str, handler: RawHandler, qos: int = 1) -> None:
        """Deliver raw bytes (for topics outside our tree, e.g. ``homeassistant/status``)."""
        self._handlers.append((topic_filter, None, handler, qos))

    def subscribe_deliveries(self, topic_filter: str, handler: DeliveryHandler, qos: int = 1, *,
                             retain_as_published: bool = True) -> None:
        """Deliver raw messages with their retain flag.

        ``retain_as_published`` (MQTT v5): the flag as the publisher set it, also on live messages
        (for commands: a retained command must be refused, live or not). False: the flag marks only
        what the broker had stored before we subscribed (a previous life's state).
        """
        self._delivery_handlers.append((topic_filter, handler, qos, retain_as_published))

    async def subscribe_now(self, topic_filter: str, handler: RawHandler, qos: int = 1) -> None:
        """Like :meth:`subscribe_raw`, and also on the broker at once if connected (topics learned at run time,
        e.g. a discovered device's state topic); kept for every later reconnect."""
        self._handlers.append((topic_filter, None, handler, qos))
        client = self._client
        if client is not None and self.connected.is_set():
            try:
                await client.subscribe(topic_filter, qos=qos)
            except aiomqtt.MqttError as err:  # the reconnect subscribes it again
                _LOGGER.warning("could not subscribe to %s now (%s); will on reconnect", topic_filter, err)

    def on_connect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` after every (re)connect, once subscriptions are in place."""
        self._on_connect.append(callback)

    # -- publishing ------------------------------------------------------------
    def publish(self, topic: str, message: BaseModel | Availability, *, retain: bool = False, qos: int = 1,
                essential: bool = False) -> None:
        """Queue ``message`` for ``topic``; never blocks. Retained ones are re-sent on reconnect.

        ``essential`` (command results): dropped on overflow only when nothing else can be.
        """
        self.publish_bytes(topic, codec.encode(message), retain=retain, qos=qos, essential=essential)

    @property
    def pending(self) -> int:
        """Messages not yet acknowledged by the broker (queued plus in flight)."""
        return len(self._outbox) + len(self._unacked)

    def _high_water(self) -> int:
        return self.settings.outbox_size - max(16, self.settings.outbox_size // 8)

    def publish_bytes(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1,
                      essential: bool = False) -> None:
        if not self.settings.enabled:
            return  # MQTT is off: nothing would ever send it, so nothing is kept (no outbox filling up for hours)
        if retain:
            if payload:
                self._retained[topic] = payload
            else:
                self._retained.pop(topic, None)
            # Only the latest value of a retained topic matters: a queued older one is dropped, so a
            # burst of state changes costs the broker one store write, not one per change.
            stale = next((m for m in self._outbox if m.retain and m.topic == topic), None)
            if stale is not None:
                self._outbox.remove(stale)
        if self.pending >= self.settings.outbox_size and self._outbox:
            victim = next((m for m in self._outbox if not m.retain and not m.essential),
                          next((m for m in self._outbox if not m.retain), self._outbox[0]))
            self._outbox.remove(victim)
            self.stats.dropped_outgoing += 1
            self.log_limiter.warning("outbox-full", "MQTT outbox full (%d): dropped a message for %s (%d dropped so far)",
                                     self.settings.outbox_size, victim.topic, self.stats.dropped_outgoing)
        self._outbox.append(_Outgoing(topic, payload, retain, qos, essential))
        if self.pending >= self._high_water():
            self._has_room.clear()
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
        if not self.settings.enabled:
            _LOGGER.info("MQTT is disabled: %s does not connect", self.client_id)
            await asyncio.Event().wait()  # run() never returns; there is nothing to do
        delay = 0.2
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    delay = 0.2
                    try:
                        await self._session(client)
                    except asyncio.CancelledError:
                        await self._say_offline(client)
                        raise
            except aiomqtt.MqttError as err:
                self.log_limiter.warning("unavailable", "MQTT %s:%d unavailable (%s); retrying in %.1f s",
                                         self.settings.host, self.settings.port, err, delay)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A graceful stop: ``offline`` before the DISCONNECT (which, unlike a crash, fires no last will)."""
        if not self._availability_topic or not self.connected.is_set():
            return
        try:
            await client.publish(self._availability_topic, codec.encode(Availability.OFFLINE), qos=1, retain=True,
                                 timeout=1.0)
            _LOGGER.info("MQTT: published offline for %s", self.client_id)
        except (aiomqtt.MqttError, TimeoutError) as err:
            _LOGGER.warning("MQTT: could not publish offline before disconnecting: %s", err)

    async def _session(self, client: aiomqtt.Client) -> None:
        self.stats.connects += 1
        for topic_filter, _, _, qos in self._handlers:
            await client.subscribe(topic_filter, qos=qos)
        for topic_filter, _, qos, as_published in self._delivery_handlers:
            await client.subscribe(topic_filter, options=SubscribeOptions(qos=qos, retainAsPublished=as_published))
        if self._availability_topic:
            await client.publish(self._availability_topic, codec.encode(Availability.ONLINE), qos=1, retain=True)
        for topic, payload in list(self._retained.items()):
            await client.publish(topic, payload, qos=1, retain=True)
        # Retained messages just went out with their latest value; queued copies are stale.
        self._outbox = collections.deque(m for m in self._outbox if not m.retain)
        self.connected.set()
        _LOGGER.info("MQTT connected to %s:%d as %s (the broker names the session %s)", self.settings.host,
                     self.settings.port, self.client_id, self.settings.username)
        for callback in self._on_connect:
            await callback()
        sender = asyncio.create_task(self._send_outbox(client), name=f"mqtt-send-{self.client_id}")
        try:
            async for message in client.messages:
                if not self._has_room.is_set():
                    # Handlers publish their answers without waiting: hold the next message until
                    # the broker has taken enough of the outbox that no answer is dropped.
                    self.stats.backpressure_waits += 1
                    await self._wait_for_room(sender)
                await self._dispatch(str(message.topic), bytes(message.payload or b""), bool(message.retain))
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _wait_for_room(self, sender: asyncio.Task[None]) -> None:
        room = asyncio.create_task(self._has_room.wait())
        try:
            await asyncio.wait({room, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            room.cancel()
        if not self._has_room.is_set() and sender.done():
            sender.result()  # the connection went (MqttError): reconnect
            raise aiomqtt.MqttError("MQTT sender stopped")

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        try:
            while True:
                await self._outbox_ready.wait()
                while self._outbox or self._unacked:
                    while self._outbox and len(self._unacked) < SEND_WINDOW:
                        item = self._outbox.popleft()
                        # Tasks start in creation order, so the broker gets the messages in outbox order.
                        sent = asyncio.create_task(client.publish(item.topic, item.payload, qos=item.qos,
                                                                  retain=item.retain))
                        self._unacked.append((item, sent))
                    item, sent = self._unacked[0]
                    try:
                        await asyncio.shield(sent)
                    except (ValueError, TypeError) as err:
                        _LOGGER.error("cannot publish to %r: %s; message dropped", item.topic, err)
                        self.stats.dropped_outgoing += 1
                    # aiomqtt.MqttError propagates: the connection is going, the finally below requeues.
                    self._unacked.popleft()
                    self.stats.published += 1
                    if not self._has_room.is_set() and self.pending < self._high_water():
                        self._has_room.set()
                self._outbox_ready.clear()
                self._outbox_empty.set()
                self._has_room.set()
        finally:
            # Not acknowledged: back to the front, in order, for the next connection (a copy the
            # broker did get is sent twice: receivers de-duplicate by command id).
            while self._unacked:
                item, sent = self._unacked.pop()
                sent.cancel()
                with contextlib.suppress(BaseException):
                    await sent
                self._outbox.appendleft(item)

    async def _dispatch(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.stats.received += 1
        for delivery_filter, delivery_handler, _, _ in self._delivery_handlers:
            if paho.topic_matches_sub(delivery_filter, topic):
                try:
                    await delivery_handler(Delivery(topic, payload, retain))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("handler for %s failed on a message from %s", delivery_filter, topic)
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
                if topic in self.stats.rejected_by_topic or len(self.stats.rejected_by_topic) < 1000:
                    self.stats.rejected_by_topic[topic] = self.stats.rejected_by_topic.get(topic, 0) + 1
                self.log_limiter.warning(f"payload {topic_filter}", "rejected MQTT payload on %s (%s): %s",
                                         topic, err.code, err)
                continue
            try:
                assert handler is not None
                await handler(topic, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("handler for %s failed on a message from %s", topic_filter, topic)

    def _make_client(self) -> aiomqtt.Client:
        client = self._new_client()
        client.pending_calls_threshold = 2 * SEND_WINDOW  # aiomqtt warns per publish past 10 in flight
        return client

    def _new_client(self) -> aiomqtt.Client:
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
            max_inflight_messages=SEND_WINDOW,
        )
