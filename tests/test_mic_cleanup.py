"""Noise suppression and auto gain run on every block when enabled, not only while an answer plays."""

from __future__ import annotations

import numpy as np

from satellite.app import build_core
from satellite.audio.backends import BLOCK_SAMPLES, AudioBlock
from satellite.audio.player import Player
from satellite.core import SatellitePhase
from satellite.settings import SatelliteSettings

RATE = 16000


def level_db(samples: np.ndarray) -> float:
    return 10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9)


def settings(**barge_in) -> SatelliteSettings:
    return SatelliteSettings.model_validate({"id": "kitchen", "mqtt": {"enabled": False}, "barge_in": barge_in})


async def test_noise_suppression_quiets_a_noisy_idle_room(mocker) -> None:
    core = build_core(settings(noise_suppression=True), Player())
    core.phase = SatellitePhase.IDLE  # nothing plays: the echo canceller is skipped, the clean-up is not
    vad = mocker.spy(core.vad, "is_speech")  # the VAD and wake model see what the clean-up made of the mic
    fan = np.random.default_rng(0).normal(0.0, 1000.0, 4 * RATE).astype(np.int16)  # steady noise, -30 dBFS
    silence = bytes(BLOCK_SAMPLES * 2)
    for start in range(0, fan.size - BLOCK_SAMPLES + 1, BLOCK_SAMPLES):
        await core._on_block(AudioBlock(mic=fan[start:start + BLOCK_SAMPLES].tobytes(), played=silence,
                                        t=start / RATE))
    heard = np.concatenate([np.frombuffer(call.args[0], dtype=np.int16) for call in vad.call_args_list])
    last_second = heard[-RATE:]
    assert level_db(fan[-RATE:]) - level_db(last_second) >= 6


def test_the_clean_up_stage_exists_only_when_asked_for() -> None:
    assert build_core(settings(), Player()).mic.cleanup is None
    assert build_core(settings(auto_gain=True), Player()).mic.cleanup is not None
