"""The programs tell systemd they are ready once their models are loaded, then feed the watchdog."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.local_broker import REPO

pytestmark = pytest.mark.timeout(180)

CONFIGS = {
    "satellite": 'id = "kitchen"\n[mqtt]\nenabled = false\n[wyoming]\nhost = "127.0.0.1"\nport = 0\n'
                 '[audio]\nbackend = "file"\n',
    "hub": '[mqtt]\nenabled = false\n[wyoming]\nport = 0\n',
}


@pytest.mark.models  # the programs load their models before they say they are ready
@pytest.mark.parametrize("program", ["satellite", "hub"])
def test_ready_after_models_load_then_watchdog_while_healthy(program: str, tmp_path: Path):
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(1.0)
    config = tmp_path / f"{program}.toml"
    top = f'data_dir = "{tmp_path / "data"}"\n' if program == "hub" else ""  # top-level keys before tables
    config.write_text(top + CONFIGS[program])
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}
    process = subprocess.Popen([sys.executable, "-m", program, "--config", str(config)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    messages: list[tuple[float, str]] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < 120:
            try:
                messages.append((time.monotonic(), listener.recv(4096).decode()))
            except TimeoutError:
                if process.poll() is not None:
                    break
                continue
            if sum("WATCHDOG=1" in m for _, m in messages) >= 3:
                break
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        listener.close()
    texts = [m for _, m in messages]
    assert any("READY=1" in m for m in texts), stderr.decode()[-2000:]
    ready_index = next(i for i, m in enumerate(texts) if "READY=1" in m)
    assert sum("WATCHDOG=1" in m for m in texts[ready_index:]) >= 3
    assert process.returncode == 0, stderr.decode()[-2000:]
