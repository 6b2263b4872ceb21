"""The hub drives a stock wyoming-satellite process (the one Home Assistant users run) through a turn."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from pathlib import Path

import pytest

from common.local_broker import REPO, free_port
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from testbed.audio_fixtures import silence
from testbed.hub_rig import running_hub

PEER = REPO / ".venv-peers" / "satellite" / "bin" / "python"

pytestmark = [pytest.mark.timeout(300), pytest.mark.peers]


class StockSatellite:
    """Only what the tests need of a SimSatellite: its address and a 'running' wait."""

    def __init__(self, port: int) -> None:
        self.uri = f"tcp://127.0.0.1:{port}"
        self.running = asyncio.Event()
        self.running.set()


@pytest.mark.skipif(not PEER.exists(), reason="scripts/install.sh installs wyoming-satellite into .venv-peers")
async def test_hub_drives_stock_wyoming_satellite_through_a_turn(broker, hub_models, speech, tmp_path: Path):
    mic = tmp_path / "mic.raw"
    mic.write_bytes(silence(0.5) + speech("What time is it?") + silence(3.0))
    played = tmp_path / "played.raw"
    port = free_port()
    log = (tmp_path / "wyoming-satellite.log").open("wb")
    # No wake word service: wyoming-satellite streams from run-satellite on; the mic speaks after the
    # hub has connected (audio read before that is discarded by the peer).
    process = await asyncio.create_subprocess_exec(
        str(PEER), "-m", "wyoming_satellite", "--name", "stock", "--area", "Hall",
        "--uri", f"tcp://127.0.0.1:{port}",
        "--mic-command", f"sh -c {shlex.quote(f'sleep 5; cat {mic}; sleep 60')}",
        "--snd-command", f"sh -c {shlex.quote(f'cat > {played}')}",
        stdout=log, stderr=log,
    )
    try:
        await asyncio.sleep(1.5)
        async with running_hub(broker, hub_models, [StockSatellite(port)], tmp_path) as hub:
            recorder = EventRecorder(hub.bus)
            ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 90)
            await asyncio.sleep(1.0)  # let the peer write what it played
    finally:
        process.terminate()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), 10)
        log.close()
    assert "time" in ended.data.transcript.lower(), ended.data
    assert ended.data.handler == "time"
    assert ended.satellite == "stock"
    assert played.exists() and played.stat().st_size > 16000, "the stock satellite played the answer"
