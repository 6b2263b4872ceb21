"""Fixtures shared by every test: a real Mosquitto, started from the repo's config."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.broker import MosquittoBroker


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A fresh broker per test: its own port, passwords, ACL and persistence folder."""
    # Not under tmp_path: mosquitto drops root for its own user, which cannot enter pytest's 0700 folders.
    workdir = Path(tempfile.mkdtemp(prefix="hearth-mqtt-"))
    workdir.chmod(0o755)
    instance = MosquittoBroker(workdir)
    instance.prepare()
    instance.start()
    yield instance
    instance.stop()
    if instance.log_path.exists():
        logging.getLogger("mosquitto").debug(instance.log_path.read_text()[-4000:])
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def hub_models():
    """The hub's real models (whisper tiny.en, gemma 270M, piper), loaded once for the whole run."""
    from hub.app import Models
    from hub.settings import HubSettings

    return Models.load(HubSettings())


@pytest.fixture(scope="session")
def speech(hub_models):
    """speech(text) -> 16 kHz 16-bit mono PCM spoken by the piper voice (cached per text)."""
    from testbed.audio_fixtures import SpeechMaker

    return SpeechMaker(hub_models.tts)


@pytest.fixture(scope="session", params=["2024.3", "current"], ids=["ha-2024.3", "ha-current"])
def home_assistant(request):
    """A real, onboarded Home Assistant with the test home (testbed/ha_peer.py), once per version per run."""
    from testbed.ha_peer import start_home_assistant

    with start_home_assistant(request.param) as peer:
        yield peer
