"""Home Assistant, the real one (2024.3.3 and the current release, testbed/ha_peer.py), sees and drives the house.

Each test adds HA's MQTT integration (the config flow, user ``homeassistant``) on this test's broker
and removes it at the end, so the session's HA is left as it was found. The hub's discovery form
follows HA's version, as ``[home_assistant] version`` would: per-component for 2024.3, device for the
current release.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from common.local_broker import REPO, free_port
from hub.app import Hub
from hub.settings import HubSettings
from protocol.payloads import SatellitePhase
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings
from testbed.hub_rig import wait_until
from testbed.toml_config import mqtt_table, write_toml

pytestmark = [pytest.mark.timeout(600), pytest.mark.peers]


def hub_values(broker, tmp_path: Path, peer, **more: Any) -> dict[str, Any]:
    return {"data_dir": str(tmp_path / "hub"), "mqtt": broker.settings("hub").model_dump(),
            "wyoming": {"port": 0}, "home_assistant": {"version": peer.version}, **more}


def satellite_values(broker, tmp_path: Path, port: int = 0) -> dict[str, Any]:
    return {"id": "kitchen", "name": "Kitchen", "area": "Kitchen", "mqtt": broker.settings("kitchen").model_dump(),
            "wyoming": {"host": "127.0.0.1", "port": port},
            "audio": {"backend": "file", "realtime": True, "output_file": str(tmp_path / "played.raw")}}


@contextlib.asynccontextmanager
async def mqtt_in(peer, broker) -> AsyncIterator[str]:
    entry = await asyncio.to_thread(peer.connect_mqtt, broker)
    try:
        yield entry
    finally:
        await asyncio.to_thread(peer.disconnect_mqtt, entry)


async def registry(peer) -> tuple[dict[str, dict], dict[str, dict]]:
    """(unique_id -> entity registry entry, device id -> device) for our MQTT entities."""
    entities, devices = await peer.ws({"type": "config/entity_registry/list"}, {"type": "config/device_registry/list"})
    ours = {e["unique_id"]: e for e in entities if e["platform"] == "mqtt" and e["unique_id"].startswith("hearth_")}
    return ours, {d["id"]: d for d in devices}


async def entity(peer, unique_id: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        ours, _ = await registry(peer)
        if unique_id in ours:
            return str(ours[unique_id]["entity_id"])
        if time.monotonic() > deadline:
            raise AssertionError(f"Home Assistant has no entity {unique_id}; ours: {sorted(ours)}\n{peer.log_tail()}")
        await asyncio.sleep(0.2)


async def state(peer, entity_id: str, wanted: str, timeout: float = 10.0) -> dict:
    return await asyncio.to_thread(peer.wait_state, entity_id, wanted, timeout)


def announce_id(peer, satellite: str) -> str:
    """The announce entity's unique id: a notify from HA 2024.5, a text before."""
    return f"hearth_{satellite}_announce" + ("_text" if peer.version.startswith("2024.3") else "")


async def number(peer, entity_id: str, wanted: float, timeout: float = 10.0) -> None:
    def is_it() -> bool:
        current = peer.state(entity_id)
        try:
            return current is not None and float(current["state"]) == wanted
        except ValueError:
            return False

    await wait_until(is_it, timeout)


async def test_entities_appear_with_names_areas_states_and_ha_services_reach_the_satellite(
        broker, hub_models, home_assistant, tmp_path):
    peer = home_assistant
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate(satellite_values(broker, tmp_path)))
    await app.start()
    hub = Hub(HubSettings.model_validate(hub_values(broker, tmp_path, peer,
                                                   satellites=[f"tcp://127.0.0.1:{app.server.port}"])), hub_models)
    await hub.start()
    try:
        async with mqtt_in(peer, broker):
            mute = await entity(peer, "hearth_kitchen_mute")
            volume = await entity(peer, "hearth_kitchen_volume")
            phase = await entity(peer, "hearth_kitchen_state")
            stop = await entity(peer, "hearth_kitchen_stop")
            driver = await entity(peer, "hearth_kitchen_driver")
            wake_word = await entity(peer, "hearth_kitchen_wake_word")
            announce = await entity(peer, announce_id(peer, "kitchen"))
            status = await entity(peer, "hearth_hub_hub_status")
            await state(peer, mute, "off")
            await number(peer, volume, app.player.volume)
            await state(peer, phase, "idle")
            await state(peer, driver, "hub")
            await state(peer, wake_word, "hey_jarvis")
            await state(peer, status, "ready")
            assert announce.split(".")[0] == ("text" if peer.version.startswith("2024.3") else "notify")
            ours, devices = await registry(peer)
            kitchen = devices[ours["hearth_kitchen_mute"]["device_id"]]
            assert kitchen["name"] == "Kitchen" and kitchen["manufacturer"] == "Hearth"
            (areas,) = await peer.ws({"type": "config/area_registry/list"})
            assert {a["area_id"]: a["name"] for a in areas}[kitchen["area_id"]] == "Kitchen"
            assert (await asyncio.to_thread(peer.state, mute))["attributes"]["friendly_name"] == "Kitchen Mute"

            # Home Assistant's services reach the satellite.
            await asyncio.to_thread(peer.call_service, "number", "set_value", entity_id=volume, value=35)
            await wait_until(lambda: app.player.volume == 35, 10)
            await number(peer, volume, 35)
            await asyncio.to_thread(peer.call_service, "switch", "turn_on", entity_id=mute)
            await wait_until(lambda: app.core.muted, 10)
            await state(peer, mute, "on")
            await asyncio.to_thread(peer.call_service, "switch", "turn_off", entity_id=mute)
            await wait_until(lambda: not app.core.muted, 10)

            async def say(text: str) -> None:
                if announce.startswith("notify."):
                    await asyncio.to_thread(peer.call_service, "notify", "send_message", entity_id=announce,
                                            message=text)
                else:
                    await asyncio.to_thread(peer.call_service, "text", "set_value", entity_id=announce, value=text)

            await say("This is a long announcement. Nobody will hear the end of it, because it is stopped.")
            await wait_until(lambda: app.core.phase is SatellitePhase.PLAYING, 30)
            await asyncio.to_thread(peer.call_service, "button", "press", entity_id=stop)
            await wait_until(lambda: app.core.phase is SatellitePhase.IDLE and not app.player.playing, 10)
            said = "The laundry is done."
            await say(said)
            last = await entity(peer, "hearth_kitchen_announcement")
            await state(peer, last, said, 30)  # what was played, all of it
            transcript = await entity(peer, "hearth_kitchen_transcript")
            assert peer.state(transcript)["state"] in ("unknown", "")  # announcements are not conversations
            # The wake word as a select, and "start conversation" as a button.
            await asyncio.to_thread(peer.call_service, "select", "select_option", entity_id=wake_word, option="alexa")
            await wait_until(lambda: app.core.wake.wake_word == "alexa", 30)
            await state(peer, wake_word, "alexa")
            start = await entity(peer, "hearth_kitchen_start_conversation")
            await asyncio.to_thread(peer.call_service, "button", "press", entity_id=start)
            await wait_until(lambda: app.core.phase is SatellitePhase.STREAMING, 10)
            await state(peer, phase, "listening")
    finally:
        await hub.close()
        await app.close()


# -- processes: SIGTERM and SIGKILL ------------------------------------------------------------------
async def spawn(module: str, config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", module, "--config", str(config),
                                                    stdout=out, stderr=out, cwd=str(REPO))


async def stop(process: asyncio.subprocess.Process, how: signal.Signals) -> None:
    if process.returncode is None:
        process.send_signal(how)
        await asyncio.wait_for(process.wait(), 30)


async def unavailable_within(peer, entity_ids: list[str], seconds: float) -> float:
    started = time.monotonic()
    for entity_id in entity_ids:
        await state(peer, entity_id, "unavailable", seconds - (time.monotonic() - started))
    return time.monotonic() - started


async def test_stopped_or_killed_satellite_and_hub_are_unavailable_within_2_s_and_come_back(
        broker, home_assistant, tmp_path):
    peer = home_assistant
    port = free_port()
    sat_config, hub_config = tmp_path / "satellite.toml", tmp_path / "hub.toml"
    sat = satellite_values(broker, tmp_path, port)
    sat["mqtt"] = mqtt_table(broker, "kitchen")
    write_toml(sat_config, sat)
    write_toml(hub_config, {**hub_values(broker, tmp_path, peer, satellites=[f"tcp://127.0.0.1:{port}"]),
                            "mqtt": mqtt_table(broker, "hub"), "wyoming": {"enabled": False}})
    satellite = await spawn("satellite", sat_config, tmp_path / "satellite.log")
    hub = await spawn("hub", hub_config, tmp_path / "hub.log")
    timings: dict[str, float] = {}
    try:
        async with mqtt_in(peer, broker):
            mute = await entity(peer, "hearth_kitchen_mute", 120)
            phase = await entity(peer, "hearth_kitchen_state", 120)
            status = await entity(peer, "hearth_hub_hub_status", 120)
            await state(peer, phase, "idle", 120)
            await state(peer, mute, "off", 30)
            for how in (signal.SIGTERM, signal.SIGKILL):
                await stop(satellite, how)
                timings[f"satellite {how.name}"] = await unavailable_within(peer, [mute, phase], 2.0)
                satellite = await spawn("satellite", sat_config, tmp_path / "satellite.log")
                await state(peer, mute, "off", 30)
                await state(peer, phase, "idle", 30)
            for how in (signal.SIGTERM, signal.SIGKILL):
                await stop(hub, how)
                timings[f"hub {how.name}"] = await unavailable_within(peer, [status, phase], 2.0)
                assert peer.state(mute)["state"] == "off"  # the satellite still obeys mute: still available
                hub = await spawn("hub", hub_config, tmp_path / "hub.log")
                await state(peer, status, "ready", 120)
                await state(peer, phase, "idle", 30)
    finally:
        for process in (satellite, hub):
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await stop(process, signal.SIGTERM)
    print("unavailable after:", {k: f"{v * 1000:.0f} ms" for k, v in timings.items()})


async def test_home_assistant_restart_recreates_every_entity(broker, hub_models, home_assistant, tmp_path):
    peer = home_assistant
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate(satellite_values(broker, tmp_path)))
    await app.start()
    hub = Hub(HubSettings.model_validate(hub_values(broker, tmp_path, peer,
                                                   satellites=[f"tcp://127.0.0.1:{app.server.port}"])), hub_models)
    await hub.start()
    try:
        async with mqtt_in(peer, broker):
            mute = await entity(peer, "hearth_kitchen_mute")
            await state(peer, mute, "off")
            before, _ = await registry(peer)
            await asyncio.to_thread(peer.restart)
            await state(peer, mute, "off", 30)
            phase = await entity(peer, "hearth_kitchen_state")
            await state(peer, phase, "idle", 30)
            after, _ = await registry(peer)
            assert set(after) == set(before)
            for unique_id, entry in after.items():
                current = await asyncio.to_thread(peer.state, entry["entity_id"])
                assert current is not None and current["state"] != "unavailable", (unique_id, current)
    finally:
        await hub.close()
        await app.close()


# -- our satellite handed to Home Assistant: its Assist pipeline, our hub's STT and TTS ----------------
async def test_home_assistant_runs_assist_through_our_satellite_with_our_hub_stt_tts(
        broker, hub_models, speech, home_assistant, tmp_path):
    peer = home_assistant
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate(satellite_values(broker, tmp_path)))
    await app.start()
    hub = Hub(HubSettings.model_validate(hub_values(broker, tmp_path, peer,
                                                   satellites=[f"tcp://127.0.0.1:{app.server.port}"])), hub_models)
    await hub.start()
    phases: list[SatellitePhase] = []
    on_phase = app.core.on_phase

    def record(phase: SatellitePhase) -> None:
        phases.append(phase)
        on_phase(phase)

    app.core.on_phase = record
    entries: list[str] = []
    restore: list[dict[str, Any]] = []  # HA is shared by the session: its preferred pipeline is put back
    try:
        async with mqtt_in(peer, broker):
            # The hub drives it; the user hands it to Home Assistant with the "Driven by" select.
            await wait_until(lambda: "kitchen" in hub.sessions and hub.sessions["kitchen"].connected, 20)
            driver = await entity(peer, "hearth_kitchen_driver")
            await state(peer, driver, "hub")
            await asyncio.to_thread(peer.call_service, "select", "select_option", entity_id=driver,
                                    option="home_assistant")
            await state(peer, driver, "home_assistant")
            await wait_until(lambda: not hub.sessions["kitchen"].connected, 10)
            await state(peer, await entity(peer, "hearth_kitchen_state"), "unavailable")  # the hub does not drive it
            await state(peer, await entity(peer, "hearth_kitchen_mute"), "off")  # its own MQTT side stays
            app.core.hub_ready.clear()
            service = await asyncio.to_thread(peer.add_integration, "wyoming",
                                              {"host": "127.0.0.1", "port": hub.wyoming.port})
            entries.append(service)
            titles = {e["entry_id"]: e["title"] for e in await asyncio.to_thread(
                peer.rest, "GET", "/api/config/config_entries/entry")}
            assert titles[service] == "Hearth hub"  # it is STT and TTS, not "hearth-stt"
            stt = await peer.entry_entity(service, "stt")
            tts = await peer.entry_entity(service, "tts")
            agents, voices, pipelines = await peer.ws(
                {"type": "conversation/agent/list"},
                {"type": "tts/engine/voices", "engine_id": tts, "language": "en_US"},
                {"type": "assist_pipeline/pipeline/list"})
            preferred_before = pipelines["preferred_pipeline"]
            agent = next(a["id"] for a in agents["agents"] if a["id"] in ("conversation.home_assistant", "homeassistant"))
            (pipeline,) = await peer.ws({
                "type": "assist_pipeline/pipeline/create", "name": "Hearth", "language": "en",
                "conversation_engine": agent, "conversation_language": "en",
                "stt_engine": stt, "stt_language": "en-US", "tts_engine": tts, "tts_language": "en_US",
                "tts_voice": voices["voices"][0]["voice_id"], "wake_word_entity": None, "wake_word_id": None})
            await peer.ws({"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline["id"]})
            restore = [{"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": preferred_before},
                       {"type": "assist_pipeline/pipeline/delete", "pipeline_id": pipeline["id"]}]
            entries.append(await asyncio.to_thread(peer.add_integration, "wyoming",
                                                   {"host": "127.0.0.1", "port": app.server.port}))
            await asyncio.wait_for(app.core.hub_ready.wait(), 30)  # HA sent run-satellite
            app.backend.feed(speech("Hey Jarvis.") + bytes(8000) + speech("What time is it?") + bytes(64000))
            try:
                await wait_until(lambda: SatellitePhase.PLAYING in phases and phases[-1] is SatellitePhase.IDLE, 90)
            except TimeoutError:
                raise AssertionError(f"the answer was not played ({phases})\n{peer.log_tail(6000)}") from None
            (runs,) = await peer.ws({"type": "assist_pipeline/pipeline_debug/list", "pipeline_id": pipeline["id"]})
            assert runs["pipeline_runs"], peer.log_tail()
            (run,) = await peer.ws({"type": "assist_pipeline/pipeline_debug/get", "pipeline_id": pipeline["id"],
                                    "pipeline_run_id": runs["pipeline_runs"][-1]["pipeline_run_id"]})
            events = {e["type"]: e.get("data") or {} for e in run["events"]}
            assert "time" in events["stt-end"]["stt_output"]["text"].lower(), events
            assert "tts-end" in events and "error" not in events, events
            assert not hub.sessions["kitchen"].connected and hub.link.connected.is_set()  # hub on MQTT, hands off
            print("Assist through our satellite:", events["stt-end"]["stt_output"]["text"], "->",
                  events["intent-end"]["intent_output"]["response"]["speech"]["plain"]["speech"])
    finally:
        if restore:
            await peer.ws(*restore)
        for entry in entries:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(peer.remove_integration, entry)
        await hub.close()
        await app.close()


STOCK = REPO / ".venv-peers" / "satellite" / "bin" / "python"


@pytest.mark.skipif(not STOCK.exists(), reason="scripts/install.sh installs wyoming-satellite into .venv-peers")
async def test_stock_wyoming_satellite_gets_only_entities_it_honours_all_available(
        broker, hub_models, home_assistant, tmp_path):
    peer = home_assistant
    port = free_port()
    played = tmp_path / "played.raw"
    log = (tmp_path / "wyoming-satellite.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(STOCK), "-m", "wyoming_satellite", "--name", "stock", "--area", "Hall", "--uri", f"tcp://127.0.0.1:{port}",
        "--mic-command", "sh -c 'sleep 3600'", "--snd-command", f"sh -c 'cat >> {played}'", stdout=log, stderr=log)
    hub = Hub(HubSettings.model_validate(hub_values(broker, tmp_path, peer,
                                                   satellites=[f"tcp://127.0.0.1:{port}"])), hub_models)
    await hub.start()
    try:
        async with mqtt_in(peer, broker):
            phase = await entity(peer, "hearth_stock_state", 30)
            await state(peer, phase, "idle", 30)
            ours, devices = await registry(peer)
            stock = {u: e for u, e in ours.items() if u.startswith("hearth_stock_")}
            assert {u.removeprefix("hearth_stock_") for u in stock} == {
                "state", "transcript", "response", "latency", "announcement", announce_id(peer, "stock")[13:],
                "driver", "stop"}
            device = devices[stock["hearth_stock_state"]["device_id"]]
            assert device["name"] == "stock" and device["model"] == "Wyoming satellite (no MQTT)"
            for entry in stock.values():  # none of them unavailable for ever
                current = await asyncio.to_thread(peer.state, entry["entity_id"])
                assert current is not None and current["state"] != "unavailable", entry["entity_id"]
            announce = stock[announce_id(peer, "stock")]["entity_id"]
            said = "The post has arrived."
            if announce.startswith("notify."):
                await asyncio.to_thread(peer.call_service, "notify", "send_message", entity_id=announce, message=said)
            else:
                await asyncio.to_thread(peer.call_service, "text", "set_value", entity_id=announce, value=said)
            await state(peer, stock["hearth_stock_announcement"]["entity_id"], said, 30)
            assert played.exists() and played.stat().st_size > 16000, "the stock satellite played it"
            # Its availability is the hub's link to it: gone with the process, within 2 s.
            process.kill()
            await process.wait()
            assert await unavailable_within(peer, [phase, stock["hearth_stock_stop"]["entity_id"]], 2.0) < 2.0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
        await hub.close()


async def test_switching_discovery_form_keeps_the_same_entities(broker, hub_models, home_assistant, tmp_path):
    peer = home_assistant
    if not peer.version.startswith("2025"):
        pytest.skip("device discovery needs Home Assistant 2024.11 or later")
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate(satellite_values(broker, tmp_path)))
    await app.start()
    uri = f"tcp://127.0.0.1:{app.server.port}"
    try:
        async with mqtt_in(peer, broker):
            seen: dict[str, dict] = {}
            for version in ("2024.3", "2025.1", "2024.3"):  # per-component -> device -> back
                hub = Hub(HubSettings.model_validate({**hub_values(broker, tmp_path, peer, satellites=[uri]),
                                                      "home_assistant": {"version": version}}), hub_models)
                await hub.start()
                try:
                    mute = await entity(peer, "hearth_kitchen_mute")
                    await state(peer, mute, "off", 15)
                    await state(peer, await entity(peer, "hearth_kitchen_state"), "idle", 15)
                    await asyncio.sleep(6.0)  # past the clear-then-publish of a form change
                    (entries,) = await peer.ws({"type": "config/entity_registry/list"})
                    now = {e["unique_id"]: e for e in entries
                           if e["platform"] == "mqtt" and e["unique_id"].startswith("hearth_kitchen_")}
                    assert len(now) == len([e for e in entries if e["platform"] == "mqtt"
                                            and e["unique_id"].startswith("hearth_kitchen_")]), "one entity each"
                    # The announce entity is a text for 2024.3 readers, a notify from 2024.5: the rest is unchanged.
                    announce = "hearth_kitchen_announce" + ("_text" if version == "2024.3" else "")
                    other = "hearth_kitchen_announce" + ("" if version == "2024.3" else "_text")
                    assert announce in now and other not in now, sorted(now)
                    if seen:
                        assert {u: e["entity_id"] for u, e in now.items() if not u.startswith("hearth_kitchen_announce")
                                } == {u: e["entity_id"] for u, e in seen.items()
                                      if not u.startswith("hearth_kitchen_announce")}, version
                    seen = now
                    for entry in now.values():
                        current = await asyncio.to_thread(peer.state, entry["entity_id"])
                        assert current is not None and current["state"] != "unavailable", (version, entry)
                finally:
                    await hub.close()
    finally:
        await app.close()
