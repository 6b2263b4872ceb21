"""A plain MQTT v5 client for probing the broker the way an attacker or a buggy device would.

Synchronous paho in its own thread: publishes report the broker's PUBACK reason code (0 or 16:
accepted; 135: not authorized), subscriptions collect what arrives.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ACCEPTED = (0, 16)
"""PUBACK reason codes for an accepted publish (16: accepted, but nobody subscribes)."""
NOT_AUTHORIZED = 135


@dataclass
class Probe:
    client: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    connect_rc: object = None
    acks: dict[int, int] = field(default_factory=dict)
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    disconnects: int = 0

    def publish(self, topic: str, payload: bytes = b'{"x": 1}', *, retain: bool = False, timeout: float = 5.0) -> int:
        """The PUBACK reason code of a QoS 1 publish."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + timeout
        while info.mid not in self.acks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no PUBACK for {topic}")
            time.sleep(0.005)
        return self.acks[info.mid]

    def publish_many(self, messages: list[tuple[str, bytes]], *, timeout: float = 240.0) -> list[int]:
        """Publish as fast as the client can (no waiting between messages); the reason codes, in order."""
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        deadline = time.monotonic() + timeout
        while any(i.mid not in self.acks for i in infos):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sum(i.mid not in self.acks for i in infos)} publishes not acknowledged")
            time.sleep(0.01)
        return [self.acks[i.mid] for i in infos]

    def received(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in list(self.messages) if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def probe(port: int, username: str | None, password: str | None, *, client_id: str = "",
          subscribe: list[str] | tuple[str, ...] = (), clean_start: bool = True, wait: bool = True,
          qos: int = 1, session_expiry_s: int = 0) -> Probe:
    """``qos``: of the subscriptions (0 spares the broker a store write per delivery)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id=client_id)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    if username is not None:
        client.username_pw_set(username, password)
    state = Probe(client)

    def on_connect(c, userdata, flags, reason_code, properties):
        state.connect_rc = reason_code
        for topic in subscribe:
            c.subscribe(topic, qos=qos)
        state.connected.set()

    def on_publish(c, userdata, mid, reason_code, properties):
        state.acks[mid] = reason_code.value

    def on_message(c, userdata, message):
        state.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def on_disconnect(c, userdata, flags, reason_code, properties):
        state.disconnects += 1

    client.on_connect, client.on_publish, client.on_message = on_connect, on_publish, on_message
    client.on_disconnect = on_disconnect
    properties = None
    if session_expiry_s:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry_s
    client.connect("127.0.0.1", port, clean_start=clean_start, properties=properties)
    client.loop_start()
    if wait and not state.connected.wait(10):
        raise TimeoutError(f"{username} could not connect")
    return state
