"""End of speech -> device state changed, and -> first audio of the spoken confirmation, ms.

    .venv/bin/python -m bench.home_latency [--repeats 6] [--no-ha] [--no-write]

The real hub (whisper tiny.en, hassil, piper) in this process drives a scripted Wyoming satellite
(testbed/simsat.py) that says "Turn on / off the ..." in real time. "End of speech" is when the last
chunk holding speech left the satellite; "first audio" when the first chunk of the answer arrived
there; everything on one clock (time.monotonic, one process).

- MQTT device: a Zigbee2MQTT-like bulb (testbed/mqtt_test_devices.py) on a real Mosquitto; "state
  changed" is when the bulb applied the command and published its new state.
- Home Assistant: a real HA (testbed/ha_peer.py, 2024.3.3) through its websocket API; "state changed"
  is when the hub saw HA's state_changed for the entity (the device-action event).
- Baseline, what Home Assistant users run today: HA's own Assist pipeline drives the same scripted
  satellite (HA's Wyoming satellite integration), with our hub's Wyoming STT and TTS (the same
  whisper and piper); HA decides the end of speech, matches the intent and calls the device, and
  speaks without waiting for the new state. "State changed" is when a websocket watcher saw HA's
  state_changed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.results import load_note, write_result
from common.broker import Role
from common.local_broker import DEFAULT_DEVICES, MosquittoBroker
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.event_data import DeviceAction, TurnEnded
from hub.conversation.events import ConversationEvent, EventKind
from hub.loaded_models import Models
from hub.settings import HubSettings
from testbed.audio_fixtures import SpeechMaker
from testbed.mqtt_test_devices import DeviceBridge, ZigbeeBulb
from testbed.simsat import SimSatellite


@dataclass
class Row:
    name: str
    state_ms: list[float] = field(default_factory=list)
    audio_ms: list[float] = field(default_factory=list)
    confirm_ms: list[float] = field(default_factory=list)
    """Command sent -> new state seen by the hub (the device-action event's ms)."""
    failed: int = 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def one_command(satellite: SimSatellite, recorder: EventRecorder, pcm: bytes,
                      state_t: Callable[[ConversationEvent], float | None], row: Row) -> None:
    seen = len(recorder.events)
    await satellite.say(pcm)
    ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and recorder.events.index(e) >= seen, 60)
    action = next((e for e in recorder.events[seen:] if isinstance(e.data, DeviceAction)), None)
    end = satellite.speech_end_t
    first_audio = satellite.answers[-1].first_chunk_t if satellite.answers else None
    done = action.data if action is not None and isinstance(action.data, DeviceAction) else None
    if action is None or done is None or done.result != "confirmed" or end is None or first_audio is None:
        row.failed += 1
        report = ended.data
        assert isinstance(report, TurnEnded)
        print(f"  {row.name}: not confirmed: heard {report.transcript!r}, said {report.response!r}")
        return
    changed = state_t(action)
    assert changed is not None
    row.state_ms.append(1000 * (changed - end))
    row.audio_ms.append(1000 * (first_audio - end))
    row.confirm_ms.append(float(done.ms))


@contextlib.asynccontextmanager
async def running(settings: Mapping[str, object], models: Models, satellite: SimSatellite,
                  ready: Callable[[Hub], bool], *, wait_satellite: bool = True) -> AsyncIterator[Hub]:
    hub = Hub(HubSettings.model_validate(settings), models)
    await hub.start()
    try:
        if wait_satellite:
            await asyncio.wait_for(satellite.running.wait(), 10)
        for _ in range(400):  # the home is known within a few seconds of the start
            if ready(hub):
                break
            await asyncio.sleep(0.05)
        yield hub
    finally:
        await hub.close()


async def mqtt_row(models: Models, speech: SpeechMaker, repeats: int, workdir: Path) -> Row:
    broker = MosquittoBroker(workdir / "mqtt", devices={**DEFAULT_DEVICES, "zigbee2mqtt": Role.DEVICE_BRIDGE})
    broker.prepare()
    broker.start()
    bulb = ZigbeeBulb("kitchen_light", "Kitchen light", "Kitchen")
    bridge = DeviceBridge(broker.settings("zigbee2mqtt"), [bulb], client_id="zigbee2mqtt")
    satellite = SimSatellite("kitchen", area="Kitchen")
    await satellite.start()
    row = Row("MQTT discovery bulb (Zigbee2MQTT-like)")
    settings = {"data_dir": str(workdir / "hub-mqtt"), "satellites": [satellite.uri],
                "mqtt": broker.settings("hub").model_dump(), "wyoming": {"enabled": False},
                "recorder": {"enabled": False}}
    try:
        async with bridge.link.running():
            bridge.publish_discovery()
            async with running(settings, models, satellite, lambda h: bool(h.home.entities())) as hub:
                recorder = EventRecorder(hub.bus)
                for index in range(repeats):
                    said = "Turn on the kitchen light." if index % 2 == 0 else "Turn off the kitchen light."
                    await one_command(satellite, recorder, speech(said), lambda _e: bulb.changed_t, row)
    finally:
        await satellite.close()
        broker.stop()
    return row


async def ha_row(models: Models, speech: SpeechMaker, repeats: int, workdir: Path) -> Row | None:
    from testbed.ha_peer import peer_venv, start_home_assistant

    if not (peer_venv("2024.3") / "bin" / "hass").exists():
        print("  Home Assistant peer not installed (scripts/install-peers.sh): skipped")
        return None
    row = Row("Home Assistant 2024.3.3 entity (websocket)")
    satellite = SimSatellite("kitchen", area="Kitchen")
    await satellite.start()
    peer = start_home_assistant("2024.3")  # blocking (it runs its own event loop): from a thread
    try:
        ha = await asyncio.to_thread(peer.__enter__)
        try:
            await asyncio.to_thread(ha.call_service, "switch", "turn_off", entity_id="switch.coffee_maker")
            settings = {"data_dir": str(workdir / "hub-ha"), "satellites": [satellite.uri], "mqtt": {"enabled": False},
                        "wyoming": {"enabled": False}, "recorder": {"enabled": False},
                        "home_assistant": {"url": ha.url, "token_file": str(ha.token_file)}}
            async with running(settings, models, satellite,
                               lambda h: any(e.entity_id == "switch.coffee_maker" for e in h.home.entities())) as hub:
                recorder = EventRecorder(hub.bus)
                for index in range(repeats):
                    said = "Turn on the coffee machine." if index % 2 == 0 else "Turn off the coffee machine."
                    await one_command(satellite, recorder, speech(said), lambda e: e.t, row)
        finally:
            await asyncio.to_thread(peer.__exit__, None, None, None)
    finally:
        await satellite.close()
    return row


async def _wyoming_entity(ha: object, entry_id: str, domain: str) -> str:
    for _ in range(100):
        (entities,) = await ha.ws({"type": "config/entity_registry/list"})  # type: ignore[attr-defined]
        found = [e["entity_id"] for e in entities
                 if e.get("config_entry_id") == entry_id and e["entity_id"].startswith(f"{domain}.")]
        if found:
            return str(found[0])
        await asyncio.sleep(0.2)
    raise RuntimeError(f"Home Assistant made no {domain} entity for the hub's Wyoming service")


async def assist_row(models: Models, speech: SpeechMaker, repeats: int, workdir: Path) -> Row | None:
    """Home Assistant's own Assist pipeline drives the satellite: HA's end of speech, HA's intent matching
    and device call, and for STT and TTS our hub's Wyoming service (the same whisper and piper)."""
    from hub.home.home_assistant import HomeAssistantBackend
    from hub.home.settings import HomeAssistantSettings
    from testbed.ha_peer import peer_venv, start_home_assistant

    if not (peer_venv("2024.3") / "bin" / "hass").exists():
        return None
    row = Row("Home Assistant 2024.3.3 Assist pipeline (baseline)")
    satellite = SimSatellite("kitchen", area="Kitchen")
    await satellite.start()
    peer = start_home_assistant("2024.3")
    try:
        ha = await asyncio.to_thread(peer.__enter__)
        try:
            await asyncio.to_thread(ha.call_service, "switch", "turn_off", entity_id="switch.coffee_maker")
            settings = {"data_dir": str(workdir / "hub-assist"), "mqtt": {"enabled": False},
                        "wyoming": {"port": 0}, "recorder": {"enabled": False}, "mqtt_devices": {"enabled": False}}
            async with running(settings, models, satellite, lambda h: True, wait_satellite=False) as hub, \
                    HomeAssistantBackend(HomeAssistantSettings(url=ha.url, token_file=ha.token_file)) as watch:
                changed: list[float] = []
                watch.subscribe(lambda state: changed.append(time.monotonic())
                                if state.entity_id == "switch.coffee_maker" else None)
                assert hub.wyoming is not None
                service = await asyncio.to_thread(ha.add_integration, "wyoming",
                                                  {"host": "127.0.0.1", "port": hub.wyoming.port})
                stt = await _wyoming_entity(ha, service, "stt")
                tts = await _wyoming_entity(ha, service, "tts")
                agents, voices = await ha.ws({"type": "conversation/agent/list"},
                                             {"type": "tts/engine/voices", "engine_id": tts, "language": "en_US"})
                agent = next(a["id"] for a in agents["agents"]
                             if a["id"] in ("conversation.home_assistant", "homeassistant"))
                (pipeline,) = await ha.ws({
                    "type": "assist_pipeline/pipeline/create", "name": "Hearth", "language": "en",
                    "conversation_engine": agent, "conversation_language": "en", "stt_engine": stt,
                    "stt_language": "en-US", "tts_engine": tts, "tts_language": "en_US",
                    "tts_voice": voices["voices"][0]["voice_id"], "wake_word_entity": None, "wake_word_id": None})
                await ha.ws({"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline["id"]})
                await asyncio.to_thread(ha.add_integration, "wyoming", {"host": "127.0.0.1", "port": satellite.port})
                await asyncio.wait_for(satellite.running.wait(), 30)  # HA sent run-satellite
                assert await watch.wait_available(15)
                for index in range(repeats):
                    said = "Turn on the coffee machine." if index % 2 == 0 else "Turn off the coffee machine."
                    answers, before = len(satellite.answers), len(changed)
                    await satellite.say(speech(said))
                    try:
                        for _ in range(300):  # HA answers within a few seconds, or not at all
                            if len(satellite.answers) > answers and satellite.answers[-1].done.is_set():
                                break
                            await asyncio.sleep(0.05)
                    finally:
                        await asyncio.sleep(0.5)  # HA's run ends; the next wake must find it idle
                    end, answer = satellite.speech_end_t, satellite.answers[-1] if len(satellite.answers) > answers else None
                    if end is None or answer is None or answer.first_chunk_t is None or len(changed) == before:
                        row.failed += 1
                        print(f"  assist: no state change or answer for {said!r}")
                        continue
                    row.state_ms.append(1000 * (changed[before] - end))
                    row.audio_ms.append(1000 * (answer.first_chunk_t - end))
        finally:
            await asyncio.to_thread(peer.__exit__, None, None, None)
    finally:
        await satellite.close()
    return row


async def run(repeats: int, with_ha: bool, workdir: Path) -> list[Row]:
    models = await asyncio.to_thread(Models.load, HubSettings())
    speech = SpeechMaker(models.tts)
    rows = [await mqtt_row(models, speech, repeats, workdir)]
    if with_ha:
        for make in (ha_row, assist_row):
            found = await make(models, speech, repeats, workdir)
            if found is not None:
                rows.append(found)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="commands per device (on, off, on, ...)")
    parser.add_argument("--no-ha", action="store_true", help="skip the Home Assistant row")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="hearth-home-latency-"))
    workdir.chmod(0o755)  # mosquitto drops root and must still enter it
    try:
        rows = asyncio.run(run(args.repeats, not args.no_ha, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    lines = ["| device | commands confirmed | end of speech -> state changed, ms (median / p95) | "
             "-> first audio of the confirmation, ms (median / p95) | command -> state seen by the hub, ms (median) |",
             "|---|---|---|---|---|"]
    for row in rows:
        if not row.state_ms:
            lines.append(f"| {row.name} | 0/{row.failed} | - | - | - |")
            continue
        confirm = f"{statistics.median(row.confirm_ms):.0f}" if row.confirm_ms else "- (not confirmed)"
        lines.append(f"| {row.name} | {len(row.state_ms)}/{len(row.state_ms) + row.failed} | "
                     f"{statistics.median(row.state_ms):.0f} / {pct(row.state_ms, 0.95):.0f} | "
                     f"{statistics.median(row.audio_ms):.0f} / {pct(row.audio_ms, 0.95):.0f} | {confirm} |")
    body = "\n".join(lines) + (
        "\n\nSpoken commands (piper voice, real time) through a scripted Wyoming satellite into the real hub "
        "(whisper tiny.en, hassil, piper), one process, one clock. State changed = the MQTT bulb applied the "
        "command / Home Assistant's state_changed was seen. Ours speaks only after that (the confirmation's "
        "first audio is state changed + piper's first chunk); the Assist baseline answers without checking. "
        "Baseline: HA's own Assist pipeline driving the same satellite, with the hub's Wyoming STT and TTS "
        "(same whisper and piper), HA's end-of-speech detection and intent matching. "
        f"{load_note(load_before, load_after)}.\n")
    print(body)
    if not args.no_write:
        write_result("home control latency", body, "python -m bench.home_latency")


if __name__ == "__main__":
    main()
