"""The README's main job, end to end with real processes: satellite (wake word from a WAV) -> hub -> answer WAV."""

from __future__ import annotations

import os
import subprocess
import sys
import wave

import pytest

from common.local_broker import REPO

pytestmark = [pytest.mark.timeout(300), pytest.mark.models]  # hub and satellite processes with their models


def test_demo_answers_the_time_question_through_real_processes(tmp_path):
    out = tmp_path / "answer.wav"
    result = subprocess.run([sys.executable, "-m", "scripts.demo", "--out", str(out), "--timeout", "180"],
                            cwd=REPO, capture_output=True, text=True, timeout=280, env={**os.environ, "COLUMNS": "120"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shown = result.stdout
    assert "what time is it" in shown.lower(), shown
    assert "(by time)" in shown and "listening -> thinking -> speaking" in shown, shown
    # The second request switches a discovery-publishing MQTT bulb, and the hub says so once it did.
    assert "(by turn_on)" in shown and "turn_on: confirmed" in shown and "state OFF -> ON" in shown, shown
    with wave.open(str(out)) as played:
        assert played.getnframes() / played.getframerate() > 1.0  # the spoken answer
