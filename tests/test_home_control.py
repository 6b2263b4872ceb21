"""Spoken device commands end to end: WAV -> satellite -> hub (whisper, hassil) -> real MQTT devices -> answer.

The devices are :mod:`testbed.mqtt_test_devices` on a real Mosquitto: they publish Home Assistant
discovery and echo their state like Zigbee2MQTT and Tasmota do. The hub knows them only from
discovery. Each test asserts the device's state and what the hub said.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.broker import Role
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.events import ConversationEvent, EventKind
from hub.settings import HubSettings
from hub.storage.replay import load, replay
from protocol.payloads import TurnReport
from testbed.broker import DEFAULT_DEVICES, MosquittoBroker
from testbed.mqtt_test_devices import Blinds, DeviceBridge, DiscoveryDevice, TasmotaPlug, Thermostat, ZigbeeBulb
from testbed.simsat import SimSatellite

pytestmark = [pytest.mark.timeout(420), pytest.mark.models]

CONFIRM_TIMEOUT_S = 2.0


@pytest.fixture
def home_broker() -> Iterator[MosquittoBroker]:
    """The production broker config and ACL, with a Zigbee2MQTT-like bridge login for the devices."""
    workdir = Path(tempfile.mkdtemp(prefix="hearth-mqtt-"))
    workdir.chmod(0o755)
    broker = MosquittoBroker(workdir, devices={**DEFAULT_DEVICES, "zigbee2mqtt": Role.DEVICE_BRIDGE})
    broker.prepare()
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def make_home() -> list[DiscoveryDevice]:
    return [
        ZigbeeBulb("kitchen_light", "Kitchen light", "Kitchen"),
        TasmotaPlug("kettle", "Kettle", "Kitchen"),
        ZigbeeBulb("ceiling_light", "Ceiling light", "Office"),
        ZigbeeBulb("desk_lamp", "Desk light", "Office"),
        ZigbeeBulb("bedroom_reading_lamp", "Reading lamp", "Bedroom"),
        ZigbeeBulb("office_reading_lamp", "Reading lamp", "Office"),
        Blinds("bedroom_blinds", "Bedroom blinds", "Bedroom"),
        Thermostat("thermostat", "Thermostat", "Living Room"),
        ZigbeeBulb("porch_light", "Porch light", "Porch", confirms=False),
    ]


@contextlib.asynccontextmanager
async def home_and_hub(broker: MosquittoBroker, models, satellites: list[SimSatellite], data_dir: Path,
                       devices: list[DiscoveryDevice]) -> AsyncIterator[tuple[Hub, DeviceBridge]]:
    bridge = DeviceBridge(broker.settings("zigbee2mqtt"), devices)
    settings = HubSettings.model_validate({
        "data_dir": str(data_dir), "satellites": [s.uri for s in satellites],
        "mqtt": broker.settings("hub").model_dump(), "wyoming": {"port": 0},
        "home": {"confirm_timeout_s": CONFIRM_TIMEOUT_S},
    })
    async with bridge.link.running():
        # A broken config first: it must cost nothing but itself.
        bridge.publish_raw("homeassistant/light/broken/config", b"{not json")
        bridge.publish_raw("homeassistant/switch/no_command/config", json.dumps({"name": "Fan plug"}).encode())
        bridge.publish_discovery()
        hub = Hub(settings, models)
        await hub.start()
        try:
            for satellite in satellites:
                await asyncio.wait_for(satellite.running.wait(), 10)
            await wait_until(lambda: len(hub.home.entities()) == len({d.object_id for d in devices}), 10)
            yield hub, bridge
        finally:
            await hub.close()


async def wait_until(predicate, timeout: float) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)


async def ask(satellite: SimSatellite, recorder: EventRecorder, pcm: bytes) -> ConversationEvent:
    seen = len(recorder.events)
    await satellite.say(pcm)
    ended = await recorder.wait_for(
        lambda e: e.kind is EventKind.TURN_ENDED and recorder.events.index(e) >= seen, 60)
    print(f"heard {ended.data.transcript!r}, said {ended.data.response!r}")  # shown when a test fails
    return ended


def actions(recorder: EventRecorder, turn_id: str | None) -> dict[str, str]:
    return {e.data.entity: e.data.result for e in recorder.events
            if e.kind is EventKind.DEVICE_ACTION and e.turn_id == turn_id}


def by_id(devices: list[DiscoveryDevice]) -> dict[str, DiscoveryDevice]:
    return {d.object_id: d for d in devices}


async def test_spoken_commands_switch_discovered_devices_and_are_confirmed(home_broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    devices = make_home()
    d = by_id(devices)
    async with home_and_hub(home_broker, hub_models, [kitchen], tmp_path / "hub", devices) as (hub, _):
        recorder = EventRecorder(hub.bus)

        ended = await ask(kitchen, recorder, speech("Turn on the kettle."))
        assert d["kettle"].state["POWER"] == "1"
        assert ended.data.response == "Turned on the kettle."
        assert actions(recorder, ended.turn_id) == {"switch.kettle": "confirmed"}

        # No room said: the satellite's own room. The office lights stay off.
        ended = await ask(kitchen, recorder, speech("Turn on the lights."))
        assert d["kitchen_light"].state["state"] == "ON"
        assert d["ceiling_light"].state["state"] == "OFF" and d["desk_lamp"].state["state"] == "OFF"
        assert ended.data.response == "Turned on the kitchen light."

        ended = await ask(kitchen, recorder, speech("Turn on the lights in the office."))
        assert d["ceiling_light"].state["state"] == "ON" and d["desk_lamp"].state["state"] == "ON"
        assert d["office_reading_lamp"].state["state"] == "ON"
        assert ended.data.response == "Turned on 3 lights in the office."

        ended = await ask(kitchen, recorder, speech("Turn the desk light brightness to 40 percent."))
        assert d["desk_lamp"].state["brightness"] == round(0.4 * 255)
        assert ended.data.response == "Set the desk light to 40 percent."

        ended = await ask(kitchen, recorder, speech("Open the bedroom blinds."))
        assert d["bedroom_blinds"].state["position"] == 100
        assert ended.data.response == "Opened the bedroom blinds."

        ended = await ask(kitchen, recorder, speech("Set the thermostat to 21 degrees."))
        assert d["thermostat"].state["target"] == 21.0
        assert ended.data.response == "Set the thermostat to 21 degrees."

        ended = await ask(kitchen, recorder, speech("Is the kettle on?"))
        assert ended.data.response == "Yes, the kettle is on."
        assert actions(recorder, ended.turn_id) == {}

        ended = await ask(kitchen, recorder, speech("Turn off all the lights."))
        lights = [d[k] for k in ("kitchen_light", "ceiling_light", "desk_lamp", "office_reading_lamp")]
        assert all(light.state["state"] == "OFF" for light in lights)
        assert ended.data.handler == "turn_off"

        # The two broken configs were skipped; everything else was found.
        assert hub.home.backends[0].skipped_configs == 2  # type: ignore[attr-defined]
        reports: list[TurnReport] = list(hub.timeline.reports)  # what went to MQTT as turn reports
    await kitchen.close()
    device_report = next(r for r in reports if r.transcript.lower().startswith("turn on the kettle"))
    assert [(a.entity, a.service, a.result) for a in device_report.actions] == [("switch.kettle", "turn_on", "confirmed")]
    assert device_report.actions[0].ms < CONFIRM_TIMEOUT_S * 1000


async def test_silent_device_unknown_device_and_a_question_back(home_broker, hub_models, speech, tmp_path):
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    devices = make_home()
    d = by_id(devices)
    async with home_and_hub(home_broker, hub_models, [kitchen], tmp_path / "hub", devices) as (hub, _):
        recorder = EventRecorder(hub.bus)

        # The porch light takes the command but never reports: the hub must not claim success.
        ended = await ask(kitchen, recorder, speech("Turn on the porch light."))
        assert d["porch_light"].commands, "the command was sent"
        assert ended.data.response == "The porch light did not respond."
        action = next(e for e in recorder.events if e.kind is EventKind.DEVICE_ACTION and e.turn_id == ended.turn_id)
        assert action.data.result == "no_response" and action.data.ms >= CONFIRM_TIMEOUT_S * 1000

        ended = await ask(kitchen, recorder, speech("Turn on the toaster."))
        assert ended.data.response.startswith("I don't know the toaster. In the kitchen I know the kitchen light")
        assert not actions(recorder, ended.turn_id)

        # Two reading lamps, neither in the kitchen: ask once, and the next answer completes the command.
        ended = await ask(kitchen, recorder, speech("Turn on the reading lamp."))
        assert ended.data.response == "The bedroom reading lamp or the office reading lamp?"
        assert not actions(recorder, ended.turn_id)
        ended = await ask(kitchen, recorder, speech("The one in the office."))
        assert d["office_reading_lamp"].state["state"] == "ON"
        assert d["bedroom_reading_lamp"].state["state"] == "OFF"
        assert ended.data.response == "Turned on the reading lamp."
        assert hub.recorder is not None
        session = hub.recorder.path
    await kitchen.close()

    # The recorder kept every action, and the session still replays to the same transitions.
    recording = load(session)
    recorded = [(e["data"]["entity"], e["data"]["result"]) for e in recording.entries
                if e["type"] == "event" and e["kind"] == EventKind.DEVICE_ACTION.value]
    assert recorded == [("light.porch_light", "no_response"), ("light.office_reading_lamp", "confirmed")]
    result = replay(recording)
    assert result.matches, result.first_difference()


async def test_timer_survives_a_hub_restart_and_rings_on_its_satellite(broker, hub_models, speech, tmp_path):
    from wyoming.timer import TimerFinished, TimerStarted

    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [kitchen.uri],
        "mqtt": broker.settings("hub").model_dump(), "wyoming": {"port": 0},
    })
    hub = Hub(settings, hub_models)
    await hub.start()
    try:
        await asyncio.wait_for(kitchen.running.wait(), 10)
        recorder = EventRecorder(hub.bus)
        ended = await ask(kitchen, recorder, speech("Set a timer for 8 seconds."))
        assert ended.data.response == "Timer set for 8 seconds."
        started = [TimerStarted.from_event(e) for e in kitchen.received if TimerStarted.is_type(e.type)]
        assert len(started) == 1
    finally:
        await hub.close()  # the hub goes away with the timer running

    hub = Hub(settings, hub_models)
    await hub.start()
    try:
        recorder = EventRecorder(hub.bus)
        assert [t.id for t in hub.timers.running("kitchen")] == [started[0].id]
        announced = await recorder.wait_for(
            lambda e: e.kind is EventKind.TURN_ENDED and e.data.handler == "announce", 30)
        finished = [TimerFinished.from_event(e) for e in kitchen.received if TimerFinished.is_type(e.type)]
        assert [f.id for f in finished] == [started[0].id]
        assert announced.data.response == "The 8 second timer is done."
        assert not hub.timers.running("kitchen")
        assert not hub.store.query("SELECT id FROM timers")
    finally:
        await hub.close()
    await kitchen.close()


@contextlib.asynccontextmanager
async def hub_on_home_assistant(ha, models, satellites: list[SimSatellite], data_dir: Path,
                                **home_assistant: object) -> AsyncIterator[Hub]:
    """A hub whose only way to the devices is Home Assistant's websocket API (no MQTT at all)."""
    settings = HubSettings.model_validate({
        "data_dir": str(data_dir), "satellites": [s.uri for s in satellites], "mqtt": {"enabled": False},
        "wyoming": {"enabled": False}, "home": {"confirm_timeout_s": CONFIRM_TIMEOUT_S},
        "home_assistant": {"url": ha.url, "token_file": str(ha.token_file), **home_assistant},
    })
    hub = Hub(settings, models)
    await hub.start()
    try:
        for satellite in satellites:
            await asyncio.wait_for(satellite.running.wait(), 10)
        await wait_until(lambda: any(e.entity_id == "switch.coffee_maker" for e in hub.home.entities()), 20)
        yield hub
    finally:
        await hub.close()


@pytest.mark.peers
async def test_spoken_commands_change_real_home_assistant_entities(home_assistant, hub_models, speech, tmp_path):
    ha = home_assistant
    for entity_id, service in (("switch.coffee_maker", "turn_off"), ("light.kitchen_ceiling", "turn_off"),
                               ("light.kitchen_counter", "turn_off"), ("light.living_room_lamp", "turn_off"),
                               ("light.bedroom_ceiling", "turn_off"), ("cover.bedroom_blind", "close_cover")):
        await asyncio.to_thread(ha.call_service, entity_id.split(".")[0], service, entity_id=entity_id)
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()

    async def state(entity_id: str) -> dict:
        found = await asyncio.to_thread(ha.state, entity_id)
        assert found is not None, entity_id
        return found

    async with hub_on_home_assistant(ha, hub_models, [kitchen], tmp_path / "hub") as hub:
        recorder = EventRecorder(hub.bus)

        ended = await ask(kitchen, recorder, speech("Turn on the coffee machine."))  # an alias set in HA
        assert (await state("switch.coffee_maker"))["state"] == "on"
        assert ended.data.response == "Turned on the coffee maker."
        assert actions(recorder, ended.turn_id) == {"switch.coffee_maker": "confirmed"}

        ended = await ask(kitchen, recorder, speech("Turn on the lights."))  # the satellite's room
        assert (await state("light.kitchen_ceiling"))["state"] == "on"
        assert (await state("light.kitchen_counter"))["state"] == "on"
        assert (await state("light.living_room_lamp"))["state"] == "off"
        assert ended.data.response == "Turned on the kitchen ceiling and the kitchen counter."

        ended = await ask(kitchen, recorder, speech("Turn on the lights in the living room."))
        assert (await state("light.living_room_lamp"))["state"] == "on"

        # "Ceiling light" is an alias of the kitchen's and the bedroom's: the kitchen satellite means its own.
        ended = await ask(kitchen, recorder, speech("Set the ceiling light to 50 percent."))
        assert abs((await state("light.kitchen_ceiling"))["attributes"]["brightness"] - 128) <= 3
        assert (await state("light.bedroom_ceiling"))["state"] == "off"
        assert ended.data.response == "Set the kitchen ceiling to 50 percent."

        ended = await ask(kitchen, recorder, speech("Open the bedroom blind."))
        assert (await state("cover.bedroom_blind"))["state"] == "open"
        assert ended.data.response == "Opened the bedroom blind."

        ended = await ask(kitchen, recorder, speech("Set the heating to 21 degrees."))
        assert (await state("climate.living_room_thermostat"))["attributes"]["temperature"] == 21
        assert ended.data.response == "Set the living room thermostat to 21 degrees."

        ended = await ask(kitchen, recorder, speech("Is the coffee machine on?"))
        assert ended.data.response == "Yes, the coffee maker is on."

        ended = await ask(kitchen, recorder, speech("Turn off all the lights."))
        for light in ("light.kitchen_ceiling", "light.kitchen_counter", "light.living_room_lamp"):
            assert (await state(light))["state"] == "off", light
        assert all(result in ("confirmed", "already") for result in actions(recorder, ended.turn_id).values())
    await kitchen.close()


@pytest.mark.peers
async def test_assist_answers_what_our_matcher_does_not_know(home_assistant, hub_models, speech, tmp_path):
    """People and zones are not ours: with assist_fallback, Home Assistant's Assist answers "is anyone home"."""
    ha = home_assistant
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    async with hub_on_home_assistant(ha, hub_models, [kitchen], tmp_path / "hub", assist_fallback=True) as hub:
        recorder = EventRecorder(hub.bus)
        ended = await ask(kitchen, recorder, speech("Is anyone home?"))
        assert ended.data.handler == "assist"
        assert ended.data.response == "No"  # the test home has no person entities
        ended = await ask(kitchen, recorder, speech("Turn on the coffee machine."))  # ours still comes first
        assert ended.data.handler == "turn_on"
    await kitchen.close()


async def test_home_assistant_down_is_said_and_the_hub_keeps_answering(hub_models, speech, tmp_path):
    from testbed.broker import free_port

    token = tmp_path / "token"
    token.write_text("some-token\n")
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [kitchen.uri], "mqtt": {"enabled": False},
        "wyoming": {"enabled": False},
        "home_assistant": {"url": f"http://127.0.0.1:{free_port()}", "token_file": str(token),
                           "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
    })
    hub = Hub(settings, hub_models)
    await hub.start()
    try:
        await asyncio.wait_for(kitchen.running.wait(), 10)
        recorder = EventRecorder(hub.bus)
        ended = await ask(kitchen, recorder, speech("Turn on the coffee machine."))
        assert ended.data.response.startswith("I can't reach Home Assistant right now")
        assert "home_assistant" in hub.problems  # and on hub/state, for people and Home Assistant's own MQTT view
        ended = await ask(kitchen, recorder, speech("What time is it?"))
        assert ended.data.handler == "time" and ended.data.response.startswith("It's ")
    finally:
        await hub.close()
        await kitchen.close()


@pytest.mark.peers
async def test_a_device_both_home_assistant_and_discovery_report_is_one_device(home_assistant, home_broker,
                                                                               hub_models, tmp_path):
    """Home Assistant's entity wins (it has the user's aliases and rooms); the same plug from MQTT is not a twin."""
    plug = TasmotaPlug("coffee_plug", "Coffee maker", "Kitchen")
    bridge = DeviceBridge(home_broker.settings("zigbee2mqtt"), [plug, TasmotaPlug("toaster", "Toaster", "Kitchen")])
    hub = Hub(HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "mqtt": home_broker.settings("hub").model_dump(), "wyoming": {"enabled": False},
        "home_assistant": {"url": home_assistant.url, "token_file": str(home_assistant.token_file)},
    }), hub_models)
    async with bridge.link.running():
        bridge.publish_discovery()
        await hub.start()
        try:
            backends = {b.source.value: b for b in hub.home.backends}
            await wait_until(lambda: len(backends["mqtt"].entities()) == 2 and bool(backends["home_assistant"].entities()),
                             20)
            ids = {e.entity_id for e in hub.home.entities()}
            assert "switch.coffee_maker" in ids and "switch.coffee_plug" not in ids
            assert "switch.toaster" in ids  # only on MQTT: still there
        finally:
            await hub.close()
