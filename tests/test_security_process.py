"""The probes that need the real programs: identity from the topic, bounded satellite links,
the truth about availability and conversation state on every kind of stop, a second hub on a busy port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path

import pytest

from common.local_broker import REPO, free_port
from protocol import codec
from protocol.payloads import ConversationPhase, ConversationState, Interrupt, InterruptReason, SatelliteAnnounce
from testbed.mqtt_probe import ACCEPTED, NOT_AUTHORIZED, Probe, probe
from testbed.toml_config import mqtt_table, write_toml

pytestmark = pytest.mark.timeout(420)

HUB_AVAILABILITY = "voice/v1/hub/availability"
KITCHEN_AVAILABILITY = "voice/v1/satellite/kitchen/availability"
KITCHEN_CONVERSATION = "voice/v1/conversation/kitchen/state"


def announce(satellite: str, uri: str) -> bytes:
    return codec.encode(SatelliteAnnounce(satellite=satellite, name=satellite, area=satellite, wyoming_uri=uri,
                                          software="probe", wake_words=["hey_jarvis"]))


async def until(predicate, timeout: float, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def test_a_satellite_cannot_pose_as_another_nor_pile_up_links(broker, hub_models, tmp_path, caplog):
    from hub.app import Hub
    from hub.settings import HubSettings

    connections = 0

    async def fake_satellite(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    fake = await asyncio.start_server(fake_satellite, "127.0.0.1", 0)
    fake_uri = f"tcp://127.0.0.1:{fake.sockets[0].getsockname()[1]}"
    hub = Hub(HubSettings.model_validate({"data_dir": str(tmp_path / "hub"), "mqtt": broker.settings("hub").model_dump(),
                                          "wyoming": {"enabled": False}}), hub_models)
    caplog.set_level(logging.INFO)
    await hub.start()
    kitchen = await asyncio.to_thread(probe, broker.port, "kitchen", broker.passwords["kitchen"])
    try:
        await asyncio.wait_for(hub.link.connected.wait(), 10)
        # The kitchen's login, on its own topics, claiming to be the bedroom (the probe that renamed bedroom).
        assert kitchen.publish("voice/v1/satellite/kitchen/announce", announce("bedroom", fake_uri)) in ACCEPTED
        assert kitchen.publish("voice/v1/satellite/kitchen/interrupt", codec.encode(
            Interrupt(satellite="bedroom", reason=InterruptReason.COMMAND))) in ACCEPTED
        # ... and on the bedroom's own topics, which the broker does not let it write.
        assert kitchen.publish("voice/v1/satellite/bedroom/announce", announce("bedroom", fake_uri)) == NOT_AUTHORIZED
        await until(lambda: hub.bridge.impostors == 2, 5, "impostors refused")
        await asyncio.sleep(1.0)
        assert connections == 0, "the hub connected to the impostor's Wyoming server"
        assert "bedroom" not in hub.sessions
        refusals = [r.getMessage() for r in caplog.records if "names satellite 'bedroom'" in r.getMessage()]
        assert len(refusals) == 2, refusals

        # A retained command (it would run again on every restart): refused with a result, cleared from the broker.
        ha = await asyncio.to_thread(probe, broker.port, "homeassistant", broker.passwords["homeassistant"],
                                     subscribe=["voice/v1/hub/result"])
        retained = json.dumps({"command": "announce", "text": "Dinner is ready", "id": "ret-1"}).encode()
        assert ha.publish("voice/v1/command/kitchen", retained, retain=True) in ACCEPTED
        await until(lambda: ha.received("voice/v1/hub/result"), 10, "result for the retained command")
        ha.close()
        result = json.loads(ha.received("voice/v1/hub/result")[0])
        assert (result["id"], result["status"], result["code"]) == ("ret-1", "error", "retained"), result
        await asyncio.sleep(0.5)
        later = await asyncio.to_thread(probe, broker.port, "monitor", broker.passwords["monitor"],
                                        subscribe=["voice/v1/command/kitchen"])
        await asyncio.sleep(1.0)
        later.close()
        assert [p for p in later.received("voice/v1/command/kitchen") if p] == [], "still retained on the broker"

        # 300 announces with changing addresses leave one link, not 300 reconnect loops.
        assert await hub.link.flush(30)
        tasks_before = len(asyncio.all_tasks())
        for port in range(40000, 40300):
            kitchen.client.publish("voice/v1/satellite/kitchen/announce", announce("kitchen", f"tcp://127.0.0.1:{port}"),
                                   qos=1, retain=True)
        await until(lambda: hub.bridge.announced.get("kitchen") is not None
                    and hub.bridge.announced["kitchen"].wyoming_uri.endswith(":40299"), 30, "last announce")
        assert await hub.link.flush(30)  # what the announces made the hub publish (discovery) is out
        await asyncio.sleep(0.5)
        assert hub.satellite_links == 1
        leftover = len(asyncio.all_tasks()) - tasks_before
        assert leftover <= 2, [t.get_name() for t in asyncio.all_tasks()]
    finally:
        kitchen.close()
        await hub.close()
        fake.close()


async def start(module: str, config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", module, "--config", str(config),
                                                    stdout=out, stderr=out, cwd=str(REPO))


def last(monitor: Probe, topic: str) -> bytes | None:
    seen = monitor.received(topic)
    return seen[-1] if seen else None


async def stopped(process: asyncio.subprocess.Process, sig: int) -> int:
    process.send_signal(sig)
    return await asyncio.wait_for(process.wait(), 30)


@pytest.mark.models  # hub and satellite processes with their models
async def test_every_kind_of_stop_tells_the_truth_and_a_second_hub_does_no_harm(broker, tmp_path):
    # A hub that died mid-answer left this behind (before: it stayed "speaking" until a restart).
    stale = await asyncio.to_thread(probe, broker.port, "hub", broker.passwords["hub"])
    assert stale.publish(KITCHEN_CONVERSATION, codec.encode(ConversationState(
        satellite="kitchen", phase=ConversationPhase.SPEAKING, since=time.time() - 60)), retain=True) in ACCEPTED
    stale.close()
    monitor = await asyncio.to_thread(probe, broker.port, "monitor", broker.passwords["monitor"],
                                      subscribe=[HUB_AVAILABILITY, KITCHEN_AVAILABILITY, KITCHEN_CONVERSATION])
    sat_port, hub_port = free_port(), free_port()
    sat_conf, hub_conf = tmp_path / "satellite.toml", tmp_path / "hub.toml"
    write_toml(sat_conf, {"id": "kitchen", "sounds": False, "mqtt": mqtt_table(broker, "kitchen"),
                          "wyoming": {"host": "127.0.0.1", "port": sat_port}, "audio": {"backend": "file"}})
    write_toml(hub_conf, {"data_dir": str(tmp_path / "hub-data"), "satellites": [f"tcp://127.0.0.1:{sat_port}"],
                          "mqtt": mqtt_table(broker, "hub"), "wyoming": {"host": "127.0.0.1", "port": hub_port}})
    sat_log, hub_log, second_log = tmp_path / "satellite.log", tmp_path / "hub.log", tmp_path / "second.log"
    satellite = await start("satellite", sat_conf, sat_log)
    hub = await start("hub", hub_conf, hub_log)
    try:
        await until(lambda: last(monitor, HUB_AVAILABILITY) == b"online", 120, "hub online")
        await until(lambda: last(monitor, KITCHEN_AVAILABILITY) == b"online", 30, "satellite online")
        await until(lambda: json.loads(last(monitor, KITCHEN_CONVERSATION) or b"{}").get("phase") == "idle", 30,
                    "the stale 'speaking' replaced")
        assert (tmp_path / "hub-data").stat().st_mode & 0o077 == 0, "the hub's data folder is private"

        # A second hub with the same configuration: it fails on the port before it touches MQTT or the satellite.
        hub_connects = broker.log_path.read_text().count("u'hub')")
        second = await start("hub", hub_conf, second_log)
        assert await asyncio.wait_for(second.wait(), 180) == 1
        text = second_log.read_text()
        assert "Traceback" not in text
        assert f"hub: cannot listen for Wyoming on 127.0.0.1:{hub_port}" in text and "another hub" in text, text
        assert broker.log_path.read_text().count("u'hub')") == hub_connects, "the second hub logged in to MQTT"
        assert b"offline" not in monitor.received(HUB_AVAILABILITY)

        # SIGTERM (systemctl stop): offline is published before the disconnect, no traceback.
        assert await stopped(satellite, signal.SIGTERM) == 0
        await until(lambda: last(monitor, KITCHEN_AVAILABILITY) == b"offline", 5, "satellite offline")
        assert await stopped(hub, signal.SIGTERM) == 0
        await until(lambda: last(monitor, HUB_AVAILABILITY) == b"offline", 5, "hub offline")
        for log in (sat_log, hub_log):
            assert "Traceback" not in log.read_text(), log.read_text()[-3000:]

        # kill -9: the broker publishes the last will.
        hub = await start("hub", hub_conf, hub_log)
        await until(lambda: last(monitor, HUB_AVAILABILITY) == b"online", 120, "hub online again")
        killed = time.monotonic()
        assert await stopped(hub, signal.SIGKILL) == -signal.SIGKILL
        await until(lambda: last(monitor, HUB_AVAILABILITY) == b"offline", 5, "last will")
        print(f"hub kill -9 -> offline in {time.monotonic() - killed:.2f} s")
    finally:
        for process in (satellite, hub):
            if process.returncode is None:
                process.kill()
                with contextlib.suppress(Exception):
                    await process.wait()
        monitor.close()
