"""Fixtures shared by every test: a real Mosquitto, started from the repo's config."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import MosquittoBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A fresh broker per test: its own port, passwords, ACL and persistence folder."""
    instance = MosquittoBroker(tmp_path / "mosquitto")
    instance.prepare()
    instance.start()
    yield instance
    instance.stop()
    if instance.log_path.exists():
        logging.getLogger("mosquitto").debug(instance.log_path.read_text()[-4000:])
