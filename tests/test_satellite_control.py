"""One control path to a satellite: spoken volume, mute and learned tuning reach our satellite over its own
Wyoming link with MQTT off, the hub's volume is the satellite's, a stock satellite is told "I can't", and a
disabled MQTT link keeps nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wyoming.event import Event

from common.mqtt import MqttLink, MqttSettings
from common.wyoming_peer import WyomingPeer
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.control import ControlRoute
from hub.conversation.event_data import TurnEnded
from hub.learning.contract import END_OF_SPEECH, WAKE_THRESHOLD
from hub.settings import HubSettings
from protocol.commands import VolumeCommand
from protocol.framing import stream_limit
from protocol.payloads import HubMetrics, SatellitePhase, SatelliteState
from protocol.topics import SatelliteTopic
from protocol.wyoming_events import CONTROL_EVENTS, SatelliteStateEvent, SetMute, SetVolume, Tune, run_satellite
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import silence
from testbed.hub_rig import running_hub, watching
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(300)


async def wait_until(predicate, timeout: float = 20.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


@contextlib.asynccontextmanager
async def hub_without_mqtt(models, uris: list[str], tmp_path: Path) -> AsyncIterator[Hub]:
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": uris, "mqtt": {"enabled": False},
        "wyoming": {"enabled": False},
    })
    hub = Hub(settings, models)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.close()


@contextlib.asynccontextmanager
async def our_satellite(tmp_path: Path, volume: int) -> AsyncIterator[SatelliteApp]:
    settings = SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "volume": volume, "mqtt": {"enabled": False},
        "wyoming": {"host": "127.0.0.1", "port": 0},
        "audio": {"backend": "file", "realtime": False, "output_file": str(tmp_path / "played.wav")},
    })
    app = await asyncio.to_thread(SatelliteApp, settings)
    await app.start()
    try:
        yield app
    finally:
        await app.close()


async def say(hub: Hub, text: str, satellite: str = "kitchen") -> str:
    """A typed request on ``satellite``; what the hub answered."""
    recorder = EventRecorder(hub.bus)
    session = hub.sessions[satellite]
    await session.start(session.new_turn(text=text))
    ended = await recorder.wait_for(lambda e: isinstance(e.data, TurnEnded) and e.satellite == satellite, 60)
    assert isinstance(ended.data, TurnEnded)
    return ended.data.response


async def test_spoken_volume_mute_and_learned_tuning_reach_our_satellite_with_mqtt_off(hub_models, tmp_path):
    async with our_satellite(tmp_path, volume=40) as app, \
            hub_without_mqtt(hub_models, [f"tcp://127.0.0.1:{app.server.port}"], tmp_path) as hub:
        await wait_until(lambda: "kitchen" in hub.sessions and hub.sessions["kitchen"].volume is not None)
        session = hub.sessions["kitchen"]
        assert session.volume == 40 and session.muted is False  # the satellite's own, not a shadow 100
        assert session.control is not None and session.control.route is ControlRoute.WYOMING

        assert await say(hub, "Louder") == "Volume 50 percent."
        await wait_until(lambda: app.player.volume == 50)
        assert await say(hub, "Set the volume to 30%") == "Volume 30 percent."
        await wait_until(lambda: app.player.volume == 30)

        app.core.set_volume(70)  # changed at the satellite (a knob, Home Assistant): the hub follows
        await wait_until(lambda: session.volume == 70)
        assert await say(hub, "Quieter") == "Volume 60 percent."
        await wait_until(lambda: app.player.volume == 60)

        assert await say(hub, "Mute the microphone") == "Microphone muted."
        await wait_until(lambda: app.core.muted)
        assert await say(hub, "Unmute the microphone") == "Microphone on."
        await wait_until(lambda: not app.core.muted)

        room = session.area
        hub.tuning.changed(room, END_OF_SPEECH, 950.0)
        hub.tuning.changed(room, WAKE_THRESHOLD, 0.7)
        await wait_until(lambda: app.core.silence_ms == 950 and app.core.wake.threshold == pytest.approx(0.7))
        assert session.endpoint is not None and session.endpoint.silence_ms == 950  # the hub's own window too


async def test_said_out_loud_louder_turns_our_satellite_up_from_its_own_volume(hub_models, speech, tmp_path):
    """The whole way: the wake word and the request in the satellite's microphone, whisper, the fast path, and
    the set-volume event back on the same Wyoming link; MQTT off."""
    async with our_satellite(tmp_path, volume=40) as app, \
            hub_without_mqtt(hub_models, [f"tcp://127.0.0.1:{app.server.port}"], tmp_path) as hub:
        await wait_until(lambda: "kitchen" in hub.sessions and hub.sessions["kitchen"].volume == 40)
        recorder = EventRecorder(hub.bus)
        app.backend.feed(silence(1.0) + speech("Hey Jarvis.") + silence(0.3) + speech("Turn the volume up.")
                         + silence(3.0))
        ended = await recorder.wait_for(lambda e: isinstance(e.data, TurnEnded), 90)
        assert isinstance(ended.data, TurnEnded) and ended.data.handler == "volume", ended.data
        assert ended.data.response == "Volume 50 percent."
        await wait_until(lambda: app.player.volume == 50)


async def test_a_satellite_without_a_control_route_is_answered_honestly(hub_models, tmp_path):
    stock = SimSatellite("hall")  # a stock Wyoming satellite: no state, no extension, and MQTT is off
    await stock.start()
    try:
        async with hub_without_mqtt(hub_models, [stock.uri], tmp_path) as hub:
            await wait_until(lambda: "hall" in hub.sessions and hub.sessions["hall"].connected)
            session = hub.sessions["hall"]
            assert session.control is None and session.volume is None
            assert await say(hub, "Set the volume to 30%", "hall") == "I can't change the volume on this satellite."
            assert await say(hub, "Mute the microphone", "hall") == "I can't mute the microphone on this satellite."
            assert (await say(hub, "Louder", "hall")).startswith("I don't know how loud this satellite is")
            assert not [e for e in stock.received if e.type in ("set-volume", "set-mute", "tune")]
    finally:
        await stock.close()


async def test_with_mqtt_on_a_stock_satellite_is_commanded_there_and_its_state_is_followed(broker, hub_models,
                                                                                          tmp_path):
    bedroom = SimSatellite("bedroom")  # stock on Wyoming; its MQTT companion speaks for it
    await bedroom.start()
    try:
        async with watching(broker, "voice/v1/command/bedroom") as commands, \
                running_hub(broker, hub_models, [bedroom], tmp_path) as hub:
            await wait_until(lambda: "bedroom" in hub.sessions and hub.sessions["bedroom"].connected)
            session = hub.sessions["bedroom"]
            assert session.control is not None and session.control.route is ControlRoute.MQTT
            async with MqttLink(broker.settings("bedroom"), "bedroom-companion").running() as companion:
                companion.publish(companion.topics.satellite("bedroom", SatelliteTopic.STATE),
                                  SatelliteState(satellite="bedroom", phase=SatellitePhase.IDLE, muted=False,
                                                 volume=20), retain=True)
                await wait_until(lambda: session.volume == 20)
            assert await say(hub, "Louder", "bedroom") == "Volume 30 percent."
            await wait_until(lambda: any(isinstance(c, VolumeCommand) for c in commands))
            assert [c.volume for c in commands if isinstance(c, VolumeCommand)] == [30]
            assert not [e for e in bedroom.received if e.type == "set-volume"]  # no extension events to a stock one
    finally:
        await bedroom.close()


async def test_our_satellite_tells_its_driver_every_change_and_refuses_bad_control(broker, tmp_path):
    """A volume set over MQTT (Home Assistant's slider) reaches the hub's Wyoming link as satellite-state; a bad
    set-volume is answered with an error and changes nothing."""
    settings = SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "volume": 40, "mqtt": broker.settings("kitchen").model_dump(),
        "wyoming": {"host": "127.0.0.1", "port": 0}, "audio": {"backend": "file", "realtime": False},
    })
    app = await asyncio.to_thread(SatelliteApp, settings)
    await app.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", app.server.port, limit=stream_limit())
    driver = WyomingPeer(reader, writer, "test driver")
    try:
        async with MqttLink(broker.settings("homeassistant"), "test-ha").running() as ha:
            await driver.send(run_satellite(strips_wake_phrase=True))
            states: list[SatelliteStateEvent] = []

            async def next_state() -> SatelliteStateEvent:
                while (event := await driver.read()) is not None:
                    if SatelliteStateEvent.is_type(event.type):
                        states.append(SatelliteStateEvent.from_event(event))
                        return states[-1]
                    if event.type == "error":
                        raise AssertionError(f"unexpected error: {event.data}")
                raise ConnectionError("satellite closed the link")

            assert await asyncio.wait_for(next_state(), 10) == SatelliteStateEvent(volume=40, muted=False)
            await asyncio.wait_for(app.link.connected.wait(), 10)
            ha.publish(ha.topics.command("kitchen"), VolumeCommand(command="volume", volume=65))
            assert await asyncio.wait_for(next_state(), 10) == SatelliteStateEvent(volume=65, muted=False)

            await driver.send(Event("set-volume", {"volume": 250}))
            while (event := await asyncio.wait_for(driver.read(), 10)) is not None and event.type != "error":
                pass
            assert event is not None and event.data["code"] == "bad_control" and "volume" in event.data["text"]
            assert app.player.volume == 65
    finally:
        await driver.close()
        await app.close()


async def test_a_disabled_mqtt_link_keeps_nothing_and_never_connects(caplog):
    link = MqttLink(MqttSettings(enabled=False, outbox_size=64), "hearth-hub-test")
    metrics = HubMetrics(stt_queue_depth=0, active_turns=0, satellites_connected=0, turns_total=0, rss_mb=1.0,
                         cpu_percent=0.0, audio_dropped_total=0)
    task = asyncio.create_task(link.run())
    with caplog.at_level(logging.WARNING, logger="common.mqtt"):
        for _ in range(5000):  # about 14 hours of metrics every 10 s
            link.publish("voice/v1/hub/metrics", metrics, qos=0)
            link.publish("voice/v1/hub/state", metrics, retain=True)
        await asyncio.sleep(0.2)
    assert link.pending == 0 and link.stats.dropped_outgoing == 0
    assert not link.connected.is_set() and not task.done()
    assert not [r for r in caplog.records if "outbox full" in r.getMessage()]
    assert await link.flush(0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()


@pytest.mark.parametrize("message", [SetVolume(volume=35), SetMute(muted=True), Tune(wake_threshold=0.6),
                                     Tune(end_of_speech_silence_ms=900), SatelliteStateEvent(volume=0, muted=False)])
def test_control_events_round_trip(message):
    assert {type(message)} <= set(CONTROL_EVENTS)
    event = message.event()
    assert type(message).is_type(event.type)
    assert type(message).from_event(Event(type=event.type, data=dict(event.data))) == message


@pytest.mark.parametrize("event", [Event("set-volume", {"volume": 101}), Event("set-volume", {"volume": "loud"}),
                                   Event("set-volume", {}), Event("set-mute", {"muted": "yes"}),
                                   Event("tune", {"wake_threshold": 2.0}), Event("tune", {"end_of_speech_silence_ms": 5}),
                                   Event("satellite-state", {"volume": 50})])
def test_control_events_refuse_bad_values_with_a_reason(event):
    reader = next(cls for cls in CONTROL_EVENTS if cls.is_type(event.type))
    with pytest.raises(ValueError, match="must be"):
        reader.from_event(event)  # type: ignore[attr-defined]
