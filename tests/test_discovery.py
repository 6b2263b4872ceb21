"""Home Assistant discovery in both forms, satellites driven by the hub or by Home Assistant, announcements.

Real Mosquitto (the repo's config and ACL), the real hub with its models, real Wyoming sockets and,
where ownership is the subject, our real satellite. Home Assistant itself is in test_ha_integration.py;
here an MQTT client with Home Assistant's login reads what Home Assistant would read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.snd import Played

from common.mqtt import MqttLink
from common.settings import parse_settings
from common.wyoming_peer import WyomingPeer
from hub.adapters.wyoming_service import SERVICE_NAME
from hub.app import Hub
from hub.settings import HubSettings
from protocol import codec, discovery
from protocol.commands import (
    AnnounceCommand,
    DriverCommand,
    MuteCommand,
    StartConversationCommand,
    StopCommand,
    VolumeCommand,
    WakeWordCommand,
)
from protocol.payloads import CommandResult, HubState, ResultStatus, SatelliteAnnounce, SatelliteLink, TurnReport
from protocol.topics import HA_STATUS_TOPIC, ConversationTopic, HubTopic, Topics
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings
from testbed.hub_rig import wait_until
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(180)

TOPICS = Topics()
OLD, NEW = discovery.HaFeatures.for_version("2024.3.3"), discovery.HaFeatures.for_version("2025.1")
OURS = SatelliteAnnounce(satellite="kitchen", name="Kitchen", area="Kitchen", wyoming_uri="tcp://10.0.0.5:10700",
                         software="hearth-satellite 1", wake_words=["hey_jarvis"],
                         wake_word_options=["hey_jarvis", "alexa"],
                         capabilities=["mute", "volume", "start_conversation", "wake_word"])


def render(template: str, value: object) -> str:
    """What Home Assistant renders from our command templates (the only filters we use: int, tojson)."""
    if "{{ value | int }}" in template:
        template = template.replace("{{ value | int }}", str(int(value)))  # type: ignore[call-overload]
    return template.replace("{{ value | tojson }}", json.dumps(value)).replace("{{ value }}", str(value))


def entities(device: discovery.DeviceDiscovery) -> dict[str, dict]:
    return {c.key: {"platform": c.platform, **c.config} for c in device.components}


# -- the payloads ------------------------------------------------------------------------------
def test_ha_version_picks_form_and_announce_platform():
    assert (OLD.form, OLD.notify) == ("component", False)
    assert (discovery.HaFeatures.for_version("2024.5").form, discovery.HaFeatures.for_version("2024.5").notify) == (
        "component", True)
    assert (NEW.form, NEW.notify) == ("device", True)
    for bad in ("latest", "24.3", "2023.7"):
        with pytest.raises(ValueError):
            discovery.parse_ha_version(bad)


def test_both_forms_carry_the_same_entities_under_the_same_ids():
    device = discovery.satellite_device(TOPICS, "kitchen", NEW, name="Kitchen", area="Kitchen", announce=OURS)
    per_component = dict(discovery.messages(device, "component"))
    (topic, payload), = discovery.messages(device, "device")
    assert topic == "homeassistant/device/hearth_kitchen/config"
    whole = json.loads(payload)
    assert whole["dev"]["sa"] == "Kitchen" and whole["o"]["name"] == "hearth"
    for key, config in whole["cmps"].items():
        single = json.loads(per_component[f"homeassistant/{config['p']}/hearth_kitchen/{key}/config"])
        assert single["dev"] == whole["dev"]
        assert {k: v for k, v in single.items() if k not in ("dev", "o")} == {
            k: v for k, v in config.items() if k != "p"}
    assert len({c["unique_id"] for c in whole["cmps"].values()}) == len(whole["cmps"])


def test_home_assistant_command_payloads_are_accepted_by_our_strict_models():
    cmps = entities(discovery.satellite_device(TOPICS, "kitchen", OLD, name="Kitchen", area="Kitchen", announce=OURS))
    topic = TOPICS.command("kitchen")

    def decode(raw: str):
        return codec.decode(TOPICS, topic, raw)

    assert isinstance(decode(cmps["stop"]["payload_press"]), StopCommand)
    assert isinstance(decode(cmps["start_conversation"]["payload_press"]), StartConversationCommand)
    muted = decode(cmps["mute"]["payload_on"])
    assert isinstance(muted, MuteCommand) and muted.muted is True
    volume = decode(render(cmps["volume"]["command_template"], 35))
    assert isinstance(volume, VolumeCommand) and volume.volume == 35
    said = 'Dinner is "ready" — come down'
    announce = decode(render(cmps["announce_text"]["command_template"], said))
    assert isinstance(announce, AnnounceCommand) and announce.text == said
    wake = decode(render(cmps["wake_word"]["command_template"], "alexa"))
    assert isinstance(wake, WakeWordCommand) and wake.wake_word == "alexa"
    driver = decode(render(cmps["driver"]["command_template"], "home_assistant"))
    assert isinstance(driver, DriverCommand) and driver.driver == "home_assistant"
    assert cmps["announce_text"]["platform"] == "text" and "announce" not in cmps  # 2024.3: no MQTT notify
    assert cmps["wake"]["event_types"] == ["hey_jarvis", "alexa"]


def test_stock_satellite_gets_only_what_the_hub_can_honour():
    cmps = entities(discovery.satellite_device(TOPICS, "hall", NEW, name="Hall", area="Hall", announce=None))
    assert not {"mute", "volume", "start_conversation", "wake", "wake_word"} & set(cmps)
    assert cmps["announce"]["platform"] == "notify"
    link = TOPICS.conversation("hall", ConversationTopic.LINK)
    for key in ("state", "transcript", "stop", "announce"):
        # Available only while the hub is online and its Wyoming link to the satellite is up.
        topics = {a["topic"] for a in cmps[key]["availability"]}
        assert topics == {TOPICS.hub(HubTopic.AVAILABILITY), link}
        assert cmps[key]["availability_mode"] == "all"
    for key, config in cmps.items():
        assert "satellite/hall" not in json.dumps(config), key  # nobody publishes there


def test_settings_take_the_old_list_and_per_satellite_tables():
    old = HubSettings.model_validate({"satellites": ["tcp://10.0.0.5:10700"]})
    assert old.satellites[0].uri == "tcp://10.0.0.5:10700" and old.satellites[0].driver == "hub"
    tables = HubSettings.model_validate({"satellites": {"kitchen": {"driver": "home_assistant"},
                                                        "hall": {"uri": "tcp://10.0.0.7:10700"}}})
    assert [(s.id, s.driver.value, s.uri) for s in tables.satellites] == [
        ("kitchen", "home_assistant", None), ("hall", "hub", "tcp://10.0.0.7:10700")]
    flags = HubSettings.model_validate({"satellites": ["kitchen=home_assistant", "hall=tcp://h:1"]})
    assert [(s.id, s.driver.value) for s in flags.satellites] == [("kitchen", "home_assistant"), ("hall", "hub")]
    for bad in (["kitchen=somebody"], [{"driver": "hub"}], ["Kitchen Bad=hub"]):
        with pytest.raises(ValidationError):
            HubSettings.model_validate({"satellites": bad})
    with pytest.raises(ValidationError):
        HubSettings.model_validate({"home_assistant": {"version": "2023.1"}})


def test_command_line_names_drivers_and_the_home_assistant_version(capsys):
    settings = parse_settings(HubSettings, ["--satellites", "kitchen=home_assistant", "--satellites",
                                            "tcp://10.0.0.7:10700", "--home-assistant-version", "2025.1"], "hub", "")
    assert [(s.id, s.uri, s.driver.value) for s in settings.satellites] == [
        ("kitchen", None, "home_assistant"), (None, "tcp://10.0.0.7:10700", "hub")]
    assert discovery.HaFeatures.for_version(settings.home_assistant.version).form == "device"
    with pytest.raises(SystemExit) as stopped:
        parse_settings(HubSettings, ["--home-assistant-version", "2023.1"], "hub", "")
    assert stopped.value.code == 2 and "home_assistant.version" in capsys.readouterr().err


# -- the hub on a real broker --------------------------------------------------------------------
@contextlib.asynccontextmanager
async def running(broker, models, tmp_path: Path, **settings) -> AsyncIterator[Hub]:
    values = {"data_dir": str(tmp_path / "hub"), "mqtt": broker.settings("hub").model_dump(),
              "wyoming": {"port": 0}, **settings}
    hub = Hub(HubSettings.model_validate(values), models)
    await hub.start()
    try:
        await asyncio.wait_for(hub.link.connected.wait(), 10)
        yield hub
    finally:
        await hub.close()


class HomeAssistantView:
    """What Home Assistant reads from the broker (its own login): retained discovery, results, links."""

    def __init__(self, broker) -> None:
        self.link = MqttLink(broker.settings("homeassistant"), "test-home-assistant")
        self.configs: dict[str, bytes] = {}
        self.cleared: list[str] = []
        self.messages: list[object] = []
        self.link.subscribe_raw("homeassistant/#", self._raw)
        self.link.subscribe("voice/v1/#", self._message)

    async def _raw(self, topic: str, payload: bytes) -> None:
        if topic == HA_STATUS_TOPIC:
            return
        if payload:
            self.configs[topic] = payload
        else:
            self.configs.pop(topic, None)
            self.cleared.append(topic)

    async def _message(self, topic: str, message: object) -> None:
        self.messages.append(message)

    def result(self, command_id: str, status: ResultStatus | None = None) -> CommandResult | None:
        return next((m for m in self.messages if isinstance(m, CommandResult) and m.id == command_id
                     and (status is None or m.status is status)), None)

    def final(self, command_id: str) -> CommandResult | None:
        return next((m for m in self.messages if isinstance(m, CommandResult) and m.id == command_id
                     and m.status is not ResultStatus.ACCEPTED), None)

    def links(self, satellite: str) -> list[SatelliteLink]:
        return [m for m in self.messages if isinstance(m, SatelliteLink) and m.satellite == satellite]


@contextlib.asynccontextmanager
async def home_assistant(broker) -> AsyncIterator[HomeAssistantView]:
    view = HomeAssistantView(broker)
    async with view.link.running():
        yield view


async def test_component_form_by_default_and_an_old_device_config_is_cleared(broker, hub_models, tmp_path):
    hall = SimSatellite("hall", "Hall")  # a stock satellite: no MQTT
    await hall.start()
    async with home_assistant(broker) as ha:
        # What an earlier hub left: the device form, unread by Home Assistant before 2024.11.
        ha.link.publish_bytes(discovery.device_topic("hearth_hall"), b'{"dev":{"ids":["hearth_hall"]},"cmps":{}}',
                              retain=True)
        await ha.link.flush(5)
        async with running(broker, hub_models, tmp_path, satellites=[hall.uri]) as hub:
            await asyncio.wait_for(hall.running.wait(), 10)
            state = discovery.component_topic("sensor", "hearth_hall", "state")
            await wait_until(lambda: state in ha.configs and discovery.device_topic("hearth_hall") in ha.cleared, 10)
            await wait_until(lambda: any(lk.connected for lk in ha.links("hall")), 10)
            config = json.loads(ha.configs[state])
            assert config["dev"]["sa"] == "Hall" and config["dev"]["mdl"] == "Wyoming satellite (no MQTT)"
            assert discovery.component_topic("sensor", "hearth_hub_hub", "status") in ha.configs
            assert discovery.component_topic("switch", "hearth_hall", "mute") not in ha.configs
            assert not any(t.startswith("homeassistant/device/") for t in ha.configs)
            assert hub.ha.stale_cleared == 1
            # Home Assistant restarted: everything is said again.
            before = len(ha.configs)
            ha.configs.clear()
            ha.link.publish_bytes(HA_STATUS_TOPIC, b"online")
            await wait_until(lambda: len(ha.configs) >= before, 10)
        # The hub's link went away with the hub: the hall's entities say so.
        await wait_until(lambda: not ha.links("hall")[-1].connected, 5)
    await hall.close()


async def test_device_form_for_new_home_assistant_clears_per_component_configs(broker, hub_models, tmp_path):
    hall = SimSatellite("hall", "Hall")
    await hall.start()
    async with home_assistant(broker) as ha:
        stale = discovery.component_topic("sensor", "hearth_hall", "state")
        ha.link.publish_bytes(stale, b'{"name":"State","unique_id":"hearth_hall_state"}', retain=True)
        await ha.link.flush(5)
        async with running(broker, hub_models, tmp_path, satellites=[hall.uri],
                           home_assistant={"version": "2025.1"}):
            device = discovery.device_topic("hearth_hall")
            await wait_until(lambda: device in ha.configs and stale in ha.cleared, 10)
            cmps = json.loads(ha.configs[device])["cmps"]
            assert cmps["announce"]["p"] == "notify" and cmps["state"]["p"] == "sensor"
            assert not [t for t in ha.configs if t.startswith("homeassistant/sensor/hearth_hall/")]
    await hall.close()


async def test_announcement_is_its_own_report_and_done_only_once_played(broker, hub_models, tmp_path):
    kitchen = SimSatellite("kitchen", "Kitchen", send_played=False)  # this test says when it has played
    deaf = SimSatellite("office", "Office", send_played=False)  # this one never does
    for satellite in (kitchen, deaf):
        await satellite.start()
    async with home_assistant(broker) as ha, running(broker, hub_models, tmp_path,
                                                     satellites=[kitchen.uri, deaf.uri]):
        await asyncio.wait_for(kitchen.running.wait(), 10)
        await asyncio.wait_for(deaf.running.wait(), 10)
        spoken = AnnounceCommand(command="announce", text="Dinner is ready.")
        ha.link.publish(TOPICS.command("kitchen"), spoken)
        await wait_until(lambda: kitchen.answers and kitchen.answers[-1].done.is_set(), 30)
        await asyncio.sleep(1.0)  # the speaker is still playing it
        assert ha.result(spoken.id, ResultStatus.ACCEPTED) is not None and ha.final(spoken.id) is None
        played_at = time.time()
        await kitchen.send(Played().event())
        await wait_until(lambda: ha.final(spoken.id) is not None, 10)
        done = ha.final(spoken.id)
        assert done.status is ResultStatus.DONE and done.ts >= played_at, done
        reports = [m for m in ha.messages if isinstance(m, TurnReport)]
        assert [r.handler for r in reports] == ["announce"] and reports[0].response == "Dinner is ready."
        assert await retained_on(broker, TOPICS.conversation("kitchen", ConversationTopic.TURN)) is None
        assert await retained_on(broker, TOPICS.conversation("kitchen", ConversationTopic.ANNOUNCEMENT))
        unconfirmed = AnnounceCommand(command="announce", text="Is anybody there?")
        ha.link.publish(TOPICS.command("office"), unconfirmed)
        await wait_until(lambda: ha.final(unconfirmed.id) is not None, 40)
        refused = ha.final(unconfirmed.id)
        assert refused.status is ResultStatus.ERROR and refused.code == "not_played", refused
        assert "did not confirm" in (refused.message or "")
    for satellite in (kitchen, deaf):
        await satellite.close()


async def retained_on(broker, topic: str) -> bytes | None:
    got: list[bytes] = []
    link = MqttLink(broker.settings("monitor"), "test-retained")

    async def keep(t: str, payload: bytes) -> None:
        if payload:
            got.append(payload)

    link.subscribe_raw(topic, keep)
    async with link.running():
        await asyncio.sleep(0.5)
    return got[-1] if got else None


# -- who drives a satellite --------------------------------------------------------------------
def satellite_settings(broker) -> SatelliteSettings:
    return SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "mqtt": broker.settings("kitchen").model_dump(),
        "wyoming": {"host": "127.0.0.1", "port": 0}, "audio": {"backend": "file", "realtime": True},
    })


@contextlib.asynccontextmanager
async def real_satellite(broker) -> AsyncIterator[SatelliteApp]:
    app = await asyncio.to_thread(SatelliteApp, satellite_settings(broker))
    await app.start()
    try:
        await asyncio.wait_for(app.link.connected.wait(), 10)
        yield app
    finally:
        await app.close()


class WyomingClient:
    """Home Assistant's side of a Wyoming satellite connection (describe, then hold it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[Event] = []
        self.peer: WyomingPeer | None = None
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.peer = WyomingPeer(reader, writer, "home assistant")
        await self.peer.send(Describe().event())
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.peer is not None
        while (event := await self.peer.read()) is not None:
            self.events.append(event)
        self.closed.set()

    def errors(self) -> list[dict]:
        return [e.data for e in self.events if e.type == "error"]

    async def close(self) -> None:
        if self.peer is not None:
            await self.peer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def test_satellite_handed_to_home_assistant_keeps_entities_and_is_never_dialled(broker, hub_models, tmp_path):
    async with home_assistant(broker) as ha, real_satellite(broker) as sat:
        async with running(broker, hub_models, tmp_path, satellites={"kitchen": {"driver": "home_assistant"}}) as hub:
            await wait_until(lambda: discovery.component_topic("switch", "hearth_kitchen", "mute") in ha.configs, 10)
            await asyncio.sleep(2.0)  # the hub had every chance to connect
            assert sat.core._peer is None and "kitchen" not in hub.sessions
            assert ha.links("kitchen")[-1].driver == "home_assistant" and not ha.links("kitchen")[-1].connected
            # Its MQTT side works as before: mute from Home Assistant.
            mute = MuteCommand(command="mute", muted=True)
            ha.link.publish(TOPICS.command("kitchen"), mute)
            await wait_until(lambda: sat.core.muted, 10)
            ghost = DriverCommand(command="driver", driver="home_assistant")
            ha.link.publish(TOPICS.command("kitchn"), ghost)  # a typo
            await wait_until(lambda: ha.final(ghost.id) is not None, 10)
            assert ha.final(ghost.id).code == "unknown_satellite"
            assert "kitchn" not in hub.known_satellites()
            # What only the hub could do says who to ask instead.
            speak = AnnounceCommand(command="announce", text="Hello")
            ha.link.publish(TOPICS.command("kitchen"), speak)
            await wait_until(lambda: ha.final(speak.id) is not None, 10)
            assert ha.final(speak.id).code == "driven_by_home_assistant"
            # Home Assistant drives it over Wyoming; the hub would now be refused, with the reason.
            home = WyomingClient(sat.server.port)
            await home.connect()
            await wait_until(lambda: any(e.type == "info" for e in home.events), 5)
            back = DriverCommand(command="driver", driver="hub")
            ha.link.publish(TOPICS.command("kitchen"), back)
            await wait_until(lambda: ha.final(back.id) is not None, 20)
            refused = ha.final(back.id)
            assert refused.status is ResultStatus.ERROR and refused.code == "satellite_busy", refused
            assert "already_driven" in refused.message or "driven by" in refused.message
            assert not home.closed.is_set()  # Home Assistant kept it
            # The hub keeps trying, and says why it cannot drive it: on the link and in hub/state.
            await wait_until(lambda: ha.links("kitchen") and ha.links("kitchen")[-1].problem, 10)
            assert "refuses the hub" in ha.links("kitchen")[-1].problem
            await wait_until(lambda: any(isinstance(m, HubState) and any("refuses the hub" in p for p in m.problems)
                                         for m in ha.messages), 10)
            # A deliberate take-over: the satellite drops Home Assistant and the hub drives it.
            take = DriverCommand(command="driver", driver="hub", take_over=True)
            ha.link.publish(TOPICS.command("kitchen"), take)
            await wait_until(lambda: ha.final(take.id) is not None, 20)
            assert ha.final(take.id).status is ResultStatus.DONE, ha.final(take.id)
            await asyncio.wait_for(home.closed.wait(), 5)
            assert hub.sessions["kitchen"].connected
            await wait_until(lambda: not ha.links("kitchen")[-1].problem and not [
                m for m in ha.messages if isinstance(m, HubState)][-1].problems, 10)
            again = WyomingClient(sat.server.port)
            await again.connect()
            await wait_until(lambda: again.errors(), 5)
            assert again.errors()[0].get("code") == "already_driven"
            await again.close()
            # And back to Home Assistant: the hub lets go and stays away.
            away = DriverCommand(command="driver", driver="home_assistant")
            ha.link.publish(TOPICS.command("kitchen"), away)
            await wait_until(lambda: ha.final(away.id) is not None, 20)
            assert ha.final(away.id).status is ResultStatus.DONE
            await wait_until(lambda: sat.core._peer is None or sat.core._peer.closed, 5)
            await home.close()
        # The choice survives a restart of the hub.
        async with running(broker, hub_models, tmp_path) as hub:
            await asyncio.sleep(2.0)
            assert "kitchen" not in hub.sessions and (sat.core._peer is None or sat.core._peer.closed)


async def test_wake_word_select_switches_the_satellite_model(broker, hub_models, tmp_path):
    async with home_assistant(broker) as ha, real_satellite(broker) as sat, running(broker, hub_models, tmp_path):
        select = discovery.component_topic("select", "hearth_kitchen", "wake_word")
        await wait_until(lambda: select in ha.configs, 10)
        assert json.loads(ha.configs[select])["options"] == ["hey_jarvis", "alexa", "ok_nabu", "hey_mycroft",
                                                             "hey_rhasspy"]
        command = WakeWordCommand(command="wake_word", wake_word="alexa")
        ha.link.publish(TOPICS.command("kitchen"), command)
        await wait_until(lambda: any(isinstance(m, CommandResult) and m.id == command.id for m in ha.messages), 30)
        assert sat.core.wake.wake_word == "alexa"
        await wait_until(lambda: any(isinstance(m, SatelliteAnnounce) and m.wake_words == ["alexa"]
                                     for m in ha.messages), 10)
        bad = WakeWordCommand(command="wake_word", wake_word="computer")
        ha.link.publish(TOPICS.command("kitchen"), bad)
        await wait_until(lambda: any(isinstance(m, CommandResult) and m.id == bad.id for m in ha.messages), 10)
        result = next(m for m in ha.messages if isinstance(m, CommandResult) and m.id == bad.id)
        assert result.status is ResultStatus.ERROR and result.code == "unknown_wake_word"


# -- the hub's Wyoming STT/TTS for Home Assistant ------------------------------------------------
async def test_stt_takes_regional_english_and_says_what_it_is(broker, hub_models, speech, tmp_path):
    async with running(broker, hub_models, tmp_path) as hub:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.wyoming.port)
        peer = WyomingPeer(reader, writer, "home assistant")
        try:
            await peer.send(Describe().event())
            info = Info.from_event(await peer.read())
            assert info.asr[0].name == SERVICE_NAME == info.tts[0].name
            assert {"en", "en-US", "en-GB"} <= set(info.asr[0].models[0].languages)
            pcm = speech("What time is it?")
            for language, expect in (("en-US", "transcript"), ("de-DE", "error")):
                await peer.send(Transcribe(language=language).event())
                await peer.send(AudioStart(rate=16000, width=2, channels=1).event())
                for offset in range(0, len(pcm), 3200):
                    await peer.send(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[offset:offset + 3200]).event())
                await peer.send(AudioStop().event())
                event = await asyncio.wait_for(peer.read(), 30)
                assert event.type == expect, event
                if expect == "transcript":
                    assert "time" in Transcript.from_event(event).text.lower()
                else:
                    assert event.data["code"] == "unsupported_language"
        finally:
            await peer.close()
