"""Nobody gets in who should not: anonymous clients are refused, devices stay in their own lane (ACL)."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion


def _client(broker, username: str | None, password: str | None = None) -> tuple[mqtt.Client, dict]:
    state: dict = {"connected": threading.Event(), "acks": {}, "messages": [], "connect_rc": None}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id=f"sec-{username}-{time.time()}")
    if username is not None:
        client.username_pw_set(username, password if password is not None else broker.passwords[username])

    def on_connect(c, userdata, flags, reason_code, properties):
        state["connect_rc"] = reason_code
        state["connected"].set()

    def on_publish(c, userdata, mid, reason_code, properties):
        state["acks"][mid] = reason_code

    def on_message(c, userdata, message):
        state["messages"].append(message.topic)

    client.on_connect, client.on_publish, client.on_message = on_connect, on_publish, on_message
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    state["connected"].wait(10)
    return client, state


def _publish(client: mqtt.Client, state: dict, topic: str) -> int:
    info = client.publish(topic, b'{"x": 1}', qos=1)
    for _ in range(100):
        if info.mid in state["acks"]:
            break
        time.sleep(0.05)
    return state["acks"][info.mid].value


def test_anonymous_and_wrong_password_are_refused(broker):
    for username, password in ((None, None), ("kitchen", "not-the-password")):
        client, state = _client(broker, username, password)
        client.loop_stop()
        assert state["connect_rc"] is not None and state["connect_rc"].is_failure, (username, state["connect_rc"])


def test_satellite_writes_only_its_own_subtree_and_monitor_only_reads(broker):
    listener, heard = _client(broker, "hub")
    listener.subscribe("voice/#", qos=1)
    time.sleep(0.3)
    kitchen, kstate = _client(broker, "kitchen")
    monitor, mstate = _client(broker, "monitor")
    try:
        assert _publish(kitchen, kstate, "voice/v1/satellite/kitchen/state") == 0
        assert _publish(kitchen, kstate, "voice/v1/satellite/bedroom/state") == 135  # not authorized
        assert _publish(kitchen, kstate, "voice/v1/command/bedroom") == 135
        assert _publish(monitor, mstate, "voice/v1/command/kitchen") == 135
        time.sleep(0.5)
    finally:
        for client in (listener, kitchen, monitor):
            client.loop_stop()
            client.disconnect()
    assert "voice/v1/satellite/kitchen/state" in heard["messages"]
    assert "voice/v1/satellite/bedroom/state" not in heard["messages"]
    assert "voice/v1/command/bedroom" not in heard["messages"]
    assert "voice/v1/command/kitchen" not in heard["messages"]


@pytest.mark.slow  # the admin helper as a process, several times, each reloading the broker
def test_the_admin_helper_adds_and_removes_a_satellite_on_a_running_broker(broker):
    import subprocess
    import sys

    from common.local_broker import REPO

    def admin(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "common.broker_admin", *args, "--passwd",
                               str(broker.workdir / "passwd"), "--acl", str(broker.workdir / "acl")],
                              cwd=REPO, capture_output=True, text=True, timeout=30)

    added = admin("add-satellite", "garage")
    assert added.returncode == 0, added.stderr
    password = next(line.split('"')[1] for line in added.stdout.splitlines() if line.startswith("password"))
    assert 'username = "garage"' in added.stdout
    broker.reload()
    time.sleep(0.3)
    garage, state = _client(broker, "garage", password)
    try:
        assert not state["connect_rc"].is_failure
        assert _publish(garage, state, "voice/v1/satellite/garage/state") in (0, 16)  # accepted (16: nobody listens)
        assert _publish(garage, state, "voice/v1/satellite/kitchen/state") == 135
        assert _publish(garage, state, "voice/v1/command/kitchen") == 135
    finally:
        garage.loop_stop()
        garage.disconnect()
    kitchen, kstate = _client(broker, "kitchen")  # the others are untouched
    assert not kstate["connect_rc"].is_failure
    kitchen.loop_stop()
    kitchen.disconnect()

    assert admin("add-satellite", "Bad/Id").returncode == 2
    removed = admin("remove-satellite", "garage")
    assert removed.returncode == 0 and "removed garage" in removed.stdout
    assert "user garage" not in (broker.workdir / "acl").read_text()
    broker.reload()
    time.sleep(0.3)
    gone, gstate = _client(broker, "garage", password)
    gone.loop_stop()
    assert gstate["connect_rc"] is not None and gstate["connect_rc"].is_failure
