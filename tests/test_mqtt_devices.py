"""MQTT devices found from Home Assistant discovery, on a real Mosquitto: forms, payloads, availability, bad input."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from common.mqtt import MqttLink
from hub.home.model import Action, HomeError
from hub.home.mqtt_devices import MqttDevices
from testbed.mqtt_test_devices import DeviceBridge, TasmotaPlug, ZigbeeBulb
from tests.test_home_control import home_broker, wait_until

__all__ = ["home_broker"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(60)


class Listening:
    """What the bridge login receives on the device topics (what the hub sent the devices)."""

    def __init__(self, link: MqttLink, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes]] = []

        async def collect(topic: str, payload: bytes) -> None:
            self.messages.append((topic, payload))

        link.subscribe_raw(topic_filter, collect)


async def test_both_discovery_forms_and_abbreviations_become_entities_and_an_empty_config_removes_one(home_broker):
    bridge = DeviceBridge(home_broker.settings("zigbee2mqtt"), [
        ZigbeeBulb("kitchen_light", "Kitchen light", "Kitchen"), TasmotaPlug("kettle", "Kettle", "Kitchen")])
    hub_link = MqttLink(home_broker.settings("hub"), "hub")
    devices = MqttDevices(hub_link)
    async with bridge.link.running(), hub_link.running():
        bridge.publish_discovery()
        # Our own satellites' discovery is for Home Assistant, not a device to switch.
        bridge.publish_raw("homeassistant/switch/hearth_kitchen/mute/config", json.dumps(
            {"name": "Mute", "cmd_t": "voice/x", "o": {"name": "hearth"}}).encode())
        await wait_until(lambda: len(devices.entities()) == 2 and devices.state("switch.kettle") is not None, 5)
        found = {e.entity_id: e for e in devices.entities()}
        assert found["light.kitchen_light"].name == "Kitchen light" and found["light.kitchen_light"].area == "Kitchen"
        assert found["light.kitchen_light"].features == {"brightness", "color"}
        assert found["switch.kettle"].name == "Kettle"  # the device form, payloads 1/0 through a value template
        assert devices.state("switch.kettle").state == "off"  # type: ignore[union-attr]

        bridge.publish_raw("homeassistant/device/kettle/config", b"")
        await wait_until(lambda: [e.entity_id for e in devices.entities()] == ["light.kitchen_light"], 5)


async def test_default_schema_light_gets_its_own_payloads_and_topics(home_broker):
    bridge_link = MqttLink(home_broker.settings("zigbee2mqtt"), "zigbee2mqtt")
    sent = Listening(bridge_link, "tasmota/lamp/#")
    hub_link = MqttLink(home_broker.settings("hub"), "hub")
    devices = MqttDevices(hub_link)
    config = {"~": "tasmota/lamp", "name": "Lamp", "uniq_id": "lamp", "cmd_t": "~/power/set", "stat_t": "~/power",
              "pl_on": "1", "pl_off": "0", "bri_cmd_t": "~/dim/set", "bri_stat_t": "~/dim", "bri_scl": 100,
              "on_cmd_type": "brightness", "rgb_cmd_t": "~/rgb/set", "rgb_cmd_tpl": "{{ red }}-{{ green }}-{{ blue }}",
              "dev": {"ids": ["lamp"], "name": "Lamp", "sa": "Office"}}
    async with bridge_link.running(), hub_link.running():
        bridge_link.publish_bytes("homeassistant/light/lamp/config", json.dumps(config).encode(), retain=True)
        await wait_until(lambda: bool(devices.entities()), 5)
        await devices.call(Action("light.lamp", "turn_on", {"brightness_pct": 50}))
        await devices.call(Action("light.lamp", "turn_on", {"rgb_color": [255, 0, 0]}))
        await devices.call(Action("light.lamp", "turn_off"))
        await wait_until(lambda: len(sent.messages) == 4, 5)
        assert sent.messages == [("tasmota/lamp/dim/set", b"50"), ("tasmota/lamp/rgb/set", b"255-0-0"),
                                 ("tasmota/lamp/power/set", b"1"), ("tasmota/lamp/power/set", b"0")]
        # Its state comes back on two topics, brightness on its own scale (0-100 here, 0-255 for the hub).
        bridge_link.publish_bytes("tasmota/lamp/power", b"1")
        bridge_link.publish_bytes("tasmota/lamp/dim", b"40")
        await wait_until(lambda: (devices.state("light.lamp") is not None
                                  and devices.state("light.lamp").attributes.get("brightness") == 102), 5)
        assert devices.state("light.lamp").state == "on"  # type: ignore[union-attr]
        with pytest.raises(HomeError) as refused:
            await devices.call(Action("light.lamp", "set_cover_position", {"position": 3}))
        assert refused.value.code == "unsupported"


async def test_availability_marks_a_device_unavailable_and_back(home_broker):
    bulb = ZigbeeBulb("porch", "Porch light", "Porch")
    bridge = DeviceBridge(home_broker.settings("zigbee2mqtt"), [bulb])
    hub_link = MqttLink(home_broker.settings("hub"), "hub")
    devices = MqttDevices(hub_link)
    async with bridge.link.running(), hub_link.running():
        bridge.publish_discovery()
        await wait_until(lambda: getattr(devices.state("light.porch"), "state", None) == "off", 5)
        bridge.publish_raw("zigbee2mqtt/porch/availability", b'{"state":"offline"}')
        await wait_until(lambda: devices.state("light.porch").state == "unavailable", 5)  # type: ignore[union-attr]
        bridge.publish_raw("zigbee2mqtt/porch/availability", b'{"state":"online"}')
        bridge.publish_raw("zigbee2mqtt/porch", json.dumps({"state": "ON", "brightness": 255}).encode())
        await wait_until(lambda: devices.state("light.porch").state == "on", 5)  # type: ignore[union-attr]


async def test_bad_configs_and_templates_are_logged_once_and_nothing_else_is_lost(home_broker, caplog):
    caplog.set_level(logging.WARNING, logger="hub.home.mqtt_devices")
    bridge = DeviceBridge(home_broker.settings("zigbee2mqtt"), [TasmotaPlug("kettle", "Kettle", "Kitchen")])
    hub_link = MqttLink(home_broker.settings("hub"), "hub")
    devices = MqttDevices(hub_link)
    async with bridge.link.running(), hub_link.running():
        for _ in range(3):  # a device that keeps re-publishing its broken config is logged once a minute
            bridge.link.publish_bytes("homeassistant/light/broken/config", b'{"name": "Broken", ')
        bridge.publish_raw("homeassistant/light/no_topic/config", b'{"name": "No topic"}')
        bridge.publish_raw("homeassistant/sensor/odd/config", json.dumps({
            "name": "Odd", "stat_t": "tele/odd", "val_tpl": "{{ value_json.x | no_such_filter }}"}).encode())
        bridge.publish_discovery()
        await wait_until(lambda: devices.skipped_configs == 4 and len(devices.entities()) == 2, 5)
        bridge.publish_raw("tele/odd", b'{"x": 1}')
        await devices.call(Action("switch.kettle", "turn_on"))
        await wait_until(lambda: getattr(devices.state("switch.kettle"), "state", None) == "on", 5)
        await asyncio.sleep(0.2)
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("homeassistant/light/broken/config" in w for w in warnings) == 1, warnings
    assert any("light/no_topic: a light needs a command_topic" in w for w in warnings), warnings
    assert any("sensor.odd" in w and "no_such_filter" in w for w in warnings), warnings
