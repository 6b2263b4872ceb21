"""The real sounddevice (PortAudio) path on a clocked PulseAudio null sink: what the satellite plays comes
back through the sink's monitor as its microphone, like a speaker next to a mic."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from testbed.audio_fixtures import silence
from tests.test_satellite import satellite_with_hub

pytestmark = [pytest.mark.timeout(120), pytest.mark.audio]


@pytest.fixture(scope="module")
def pulseaudio():
    if shutil.which("pulseaudio") is None:
        pytest.skip("pulseaudio is installed by scripts/install.sh")
    home = Path(tempfile.mkdtemp(prefix="hearth-pulse-"))
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--load=module-null-sink sink_name=hearth_null",
                    "--load=module-native-protocol-unix", "--load=module-always-sink"], env=env, check=True,
                   capture_output=True)
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_RUNTIME_DIR", "PULSE_SINK", "PULSE_SOURCE")}
    os.environ.update({"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "PULSE_SINK": "hearth_null",
                       "PULSE_SOURCE": "hearth_null.monitor"})
    yield env
    subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(home, ignore_errors=True)


async def test_sounddevice_backend_plays_in_real_time_and_hears_the_room(pulseaudio, tmp_path, speech):
    async with satellite_with_hub(tmp_path, audio={"backend": "sounddevice", "input_device": "pulse",
                                                   "output_device": "pulse"},
                                  barge_in={"echo_cancel": False}) as (app, hub):
        await asyncio.sleep(1.0)
        blocks_before = app.core.counters.blocks
        # "Hey Jarvis" played by the satellite itself reaches its microphone through the null sink's monitor.
        await hub.speak(silence(0.5) + speech("Hey Jarvis.") + silence(1.0))
        await asyncio.sleep(3.5)
        blocks = app.core.counters.blocks - blocks_before
        played_s = app.player.played_bytes / 32000
        best = app.core.wake.best_score
    # A clocked device: 3.5 s of wall time is about 44 blocks of 80 ms, not thousands.
    assert 30 <= blocks <= 60, blocks
    assert played_s >= 1.5
    assert best > 0.5, "the wake word played into the sink came back through the monitor source"
