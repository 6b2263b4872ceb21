"""Our tflite wake pipeline scores like openwakeword.Model; the satellite runs without scipy or openwakeword."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from common import models
from common.pcm import level_dbfs, resample_pcm
from satellite.audio.backends import BLOCK_BYTES
from satellite.dsp.oww import WARMUP_SCORES, WakeModel
from testbed.audio_fixtures import noise, silence

EMBEDDINGS = 16
"""Blocks until openWakeWord's starting history (random noise embeddings) no longer reaches the score."""


def our_model() -> WakeModel:
    shared = models.openwakeword_dir()
    return WakeModel(shared / "hey_jarvis_v0.1.tflite", shared / "melspectrogram.tflite",
                     shared / "embedding_model.tflite")


def blocks(pcm: bytes) -> list[np.ndarray]:
    return [np.frombuffer(pcm[i:i + BLOCK_BYTES], dtype=np.int16)
            for i in range(0, len(pcm) - BLOCK_BYTES + 1, BLOCK_BYTES)]


def our_scores(pcm: bytes) -> np.ndarray:
    model = our_model()
    return np.array([model.predict(block) for block in blocks(pcm)])


def reference_scores(pcm: bytes) -> np.ndarray:
    oww = pytest.importorskip("openwakeword.model")  # installed for this comparison only
    shared = models.openwakeword_dir()
    np.random.seed(0)  # its starting history is np.random noise: the same each run (any seed stays within 0.05)
    model = oww.Model(wakeword_models=[str(shared / "hey_jarvis_v0.1.tflite")], inference_framework="tflite",
                      melspec_model_path=str(shared / "melspectrogram.tflite"),
                      embedding_model_path=str(shared / "embedding_model.tflite"))
    (key,) = model.models
    return np.array([float(model.predict(block)[key]) for block in blocks(pcm)])


def test_scores_match_openwakeword_block_by_block(speech) -> None:
    clips = {
        "jarvis": silence(0.5) + speech("Hey Jarvis.") + silence(1.0),
        "travis then jarvis": silence(0.5) + speech("Hey Travis.") + silence(1.0) + speech("Hey Jarvis.") + silence(1.0),
        "other speech": silence(2.0) + speech("I think we should have pasta for dinner tonight.") + silence(1.0),
        "noise": noise(4.0, -40.0),
    }
    for name, pcm in clips.items():
        ours, theirs = our_scores(pcm), reference_scores(pcm)
        assert ours.shape == theirs.shape, name
        assert np.all(ours[:WARMUP_SCORES] == 0.0), name
        # Both start from embeddings of different random noise: close for 16 blocks, then the same.
        assert np.max(np.abs(ours - theirs)) < 0.05, (name, np.max(np.abs(ours - theirs)))
        assert np.max(np.abs(ours[EMBEDDINGS:] - theirs[EMBEDDINGS:])) < 1e-3, name


def test_known_scores(speech) -> None:
    assert our_scores(silence(0.5) + speech("Hey Jarvis.") + silence(1.0)).max() > 0.95
    assert 0.3 <= our_scores(silence(0.5) + speech("Hey Travis.") + silence(1.0)).max() < 0.45
    assert our_scores(silence(4.0))[EMBEDDINGS:].max() < 0.01
    assert our_scores(noise(4.0, -40.0))[EMBEDDINGS:].max() < 0.05


def test_reset_and_odd_block_sizes_give_the_same_scores(speech) -> None:
    pcm = silence(0.5) + speech("Hey Jarvis.") + silence(1.0)
    model = our_model()
    first = [model.predict(block) for block in blocks(pcm)]
    model.reset()
    samples = np.frombuffer(pcm, dtype=np.int16)
    pieces = [model.predict(samples[i:i + 1000]) for i in range(0, samples.size, 1000)]
    assert max(pieces) == pytest.approx(max(first), abs=1e-6)
    model.reset()
    assert [model.predict(block) for block in blocks(pcm)] == first


def tone(rate: int, seconds: float, hz: float = 1000.0, dbfs: float = -6.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)  # RMS at dbfs
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes()


@pytest.mark.parametrize(("from_rate", "to_rate"), [(22050, 16000), (16000, 48000), (48000, 16000), (44100, 16000)])
def test_a_1khz_tone_survives_resampling(from_rate: int, to_rate: int) -> None:
    out = np.frombuffer(resample_pcm(tone(from_rate, 1.0), from_rate, to_rate), dtype=np.int16)
    assert out.size == to_rate
    middle = out[to_rate // 10:-to_rate // 10].astype(np.float64)  # away from the edges
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size)))
    peak_hz = np.argmax(spectrum) * to_rate / middle.size
    assert abs(peak_hz - 1000.0) < 2.0
    assert level_dbfs(middle.astype(np.int16).tobytes()) == pytest.approx(-6.0, abs=0.1)
    # Nothing else of note: the rest of the spectrum is 60 dB under the tone.
    others = spectrum.copy()
    peak = int(np.argmax(spectrum))
    others[max(0, peak - 20):peak + 20] = 0
    assert others.max() < spectrum[peak] * 1e-3


def test_resampling_matches_scipy() -> None:
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(0, 3000, 22050 + 17), -32768, 32767).astype(np.int16)
    for from_rate, to_rate in [(22050, 16000), (16000, 48000)]:
        ours = np.frombuffer(resample_pcm(x.tobytes(), from_rate, to_rate), dtype=np.int16).astype(int)
        g = np.gcd(from_rate, to_rate)
        theirs = np.clip(signal.resample_poly(x.astype(np.float32), to_rate // g, from_rate // g), -32768, 32767)
        assert ours.size == theirs.size
        assert np.abs(ours - theirs.astype(np.int16)).max() <= 1


def test_the_satellite_runs_without_scipy_or_openwakeword(tmp_path) -> None:
    """A fresh process: build and start the app (file backend, default WebRTC VAD), wake and resample."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        import numpy as np
        from common.pcm import resample_pcm
        from satellite.app import SatelliteApp
        from satellite.settings import SatelliteSettings

        settings = SatelliteSettings.model_validate({{
            "id": "kitchen", "mqtt": {{"enabled": False}}, "wyoming": {{"host": "127.0.0.1", "port": 0}},
            "audio": {{"backend": "file", "realtime": False, "output_file": {str(tmp_path / "played.wav")!r}}},
        }})

        async def main():
            app = SatelliteApp(settings)
            await app.start()
            app.core.wake.process(bytes({BLOCK_BYTES}), 0.0, True, gate=False)
            app.player.add(bytes(2205 * 2), 22050)
            resample_pcm(np.ones(1000, np.int16).tobytes(), 16000, 48000)
            await app.close()

        asyncio.run(main())
        heavy = sorted(m for m in ("scipy", "sklearn", "onnxruntime", "openwakeword") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr[-2000:]
