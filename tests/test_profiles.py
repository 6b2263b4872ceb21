"""``--profile pi5-hub`` / ``pi5-satellite``: named settings sets under the config file and the flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import parse_settings
from hub.settings import PROFILES as HUB_PROFILES
from hub.settings import HubSettings
from satellite.settings import PROFILES as SATELLITE_PROFILES
from satellite.settings import SatelliteSettings

ROOT = Path(__file__).resolve().parents[1]


def hub(*argv: str) -> HubSettings:
    return parse_settings(HubSettings, list(argv), "hub", "test", HUB_PROFILES)


def satellite(*argv: str) -> SatelliteSettings:
    return parse_settings(SatelliteSettings, list(argv), "satellite", "test", SATELLITE_PROFILES)


def test_the_pi5_hub_profile_sets_threads_and_windows() -> None:
    plain, pi5 = hub(), hub("--profile", "pi5-hub")
    assert (plain.models.stt_threads, plain.models.llm_threads) == (2, 2)
    assert (pi5.models.stt_threads, pi5.models.llm_threads, pi5.models.stt_queue) == (4, 3, 8)
    assert pi5.models.stt == "tiny.en"
    assert pi5.conversation.speculative_stt_ms == 250
    assert pi5.conversation.silence_ms == plain.conversation.silence_ms  # what it does not name stays


def test_the_pi5_satellite_profile_scores_the_wake_word_every_10_ms() -> None:
    assert satellite().wake.phases == 4
    assert satellite("--profile", "pi5-satellite").wake.phases == 8


def test_a_flag_wins_over_the_profile() -> None:
    settings = hub("--profile", "pi5-hub", "--models-stt-threads", "2")
    assert settings.models.stt_threads == 2
    assert settings.models.llm_threads == 3  # the rest of the profile still applies
    assert satellite("--profile", "pi5-satellite", "--wake-phases", "2").wake.phases == 2


def test_the_config_file_wins_over_the_profile_and_may_name_it(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('profile = "pi5-hub"\n[models]\nllm_threads = 4\n')
    settings = hub("--config", str(config))
    assert (settings.models.llm_threads, settings.models.stt_threads) == (4, 4)
    config.write_text('profile = "no-such-box"\n')
    assert hub("--config", str(config), "--profile", "pi5-hub").models.stt_threads == 4  # the flag names it


def test_every_profile_is_valid_settings() -> None:
    for name in HUB_PROFILES:
        hub("--profile", name)
    for name in SATELLITE_PROFILES:
        satellite("--profile", name)


@pytest.mark.parametrize("program", ["hub", "satellite"])
def test_an_unknown_profile_is_one_clear_error_line(program: str) -> None:
    done = subprocess.run([sys.executable, "-m", program, "--profile", "pi4"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    known = "pi5-hub" if program == "hub" else "pi5-satellite"
    assert lines == [f"{program}: error: unknown profile 'pi4' (known: {known})"]
