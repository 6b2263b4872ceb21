"""Fixtures shared by every test (a real Mosquitto, started from the repo's config), and the markers.

Markers are applied here from what a test uses, so they cannot be forgotten (see ``MARKED_BY_FIXTURE``):
``models`` for a test that loads the hub's real models (whisper, gemma, piper: seconds and hundreds of MB
each; the satellite's wake model loads in 0.1 s and does not count), ``peers`` for one that runs
Home Assistant or third-party Wyoming peers. Tests that start hub or satellite *processes* (which load
their models themselves) say ``models`` explicitly, and ``slow`` marks what takes seconds without any model
(bursts of 10,000 messages, long learning simulations, many broker restarts).
``-m "not models and not peers and not slow"`` (``make test-fast``) is the fast tier: fake models
(``testbed/fakes.py``) and everything else real."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.broker import MosquittoBroker

MARKED_BY_FIXTURE: dict[str, tuple[str, ...]] = {
    "hub_models": ("models",),
    "home_assistant": ("peers",),
    "whisper_servers": ("models", "peers"),  # wyoming-faster-whisper peers, each loading whisper
    "llama_endpoint": ("models",),  # an OpenAI-compatible server on the real GGUF
}
"""A test using this fixture (directly or through another fixture) gets these markers."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker in sorted({m for fixture, marks in MARKED_BY_FIXTURE.items() if fixture in used for m in marks}):
            item.add_marker(marker)


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
def espeak():
    """espeak(text) -> 16 kHz 16-bit mono PCM said by espeak-ng: real speech for the fast tier, no model."""
    from tests.fast_rig import Speech

    return Speech()


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
