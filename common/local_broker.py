"""A throwaway Mosquitto started from the repository's own ``mosquitto.conf``.

Used by the tests and the demo. Only the listener port and the file paths are rewritten;
authentication, client ids, the ACL and persistence (autosave after every change) are exactly
what production runs. Each device gets a generated password; the ACL comes from the same
renderer as ``hearth-broker`` and Ansible (:mod:`common.broker`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.broker import Device, Role, render_acl, set_password
from common.mqtt import MqttSettings
from common.processes import stop_process
from protocol.topics import DEFAULT_ROOT, Topics

REPO = Path(__file__).resolve().parent.parent
"""The repository checkout (where mosquitto.conf lives)."""
DEFAULT_DEVICES: dict[str, Role] = {
    "hub": Role.HUB,
    "homeassistant": Role.HOME_ASSISTANT,
    "monitor": Role.MONITOR,
    "kitchen": Role.SATELLITE,
    "bedroom": Role.SATELLITE,
    "office": Role.SATELLITE,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MosquittoBroker:
    workdir: Path
    devices: dict[str, Role] = field(default_factory=lambda: dict(DEFAULT_DEVICES))
    root: str = DEFAULT_ROOT
    port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def settings(self, username: str, **overrides: object) -> MqttSettings:
        """Client settings for one of the broker's devices."""
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "username": username,
            "password": self.passwords[username],
            "root": self.root,
            "reconnect_max_s": 0.5,
        }
        values.update(overrides)
        return MqttSettings.model_validate(values)

    def prepare(self) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: run scripts/install.sh (apt-get install mosquitto)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        passwd = self.workdir / "passwd"
        for username in self.devices:
            self.passwords.setdefault(username, secrets.token_urlsafe(12))
            set_password(passwd, username, self.passwords[username])
        topics = Topics(self.root)
        acl = render_acl([Device(u, r) for u, r in self.devices.items()], topics)
        (self.workdir / "acl").write_text(acl)
        self.conf_path.write_text(self._rewrite((REPO / "mosquitto.conf").read_text()))
        _chown_for_mosquitto(self.workdir)

    def _rewrite(self, conf: str) -> str:
        replacements = {
            r"^password_file .*$": f"password_file {self.workdir / 'passwd'}",
            r"^acl_file .*$": f"acl_file {self.workdir / 'acl'}",
            r"^persistence_location .*$": f"persistence_location {self.workdir / 'data'}/",
            r"^listener 1883$": f"listener {self.port} 127.0.0.1",
        }
        for pattern, replacement in replacements.items():
            conf, count = re.subn(pattern, replacement, conf, flags=re.MULTILINE)
            assert count == 1, f"mosquitto.conf no longer has a line matching {pattern}"
        return conf

    def start(self, timeout: float = 10.0) -> None:
        if not self.conf_path.exists():
            self.prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.conf_path)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not open its port in time")

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process, timeout_s=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self) -> None:
        """Re-read password and ACL files (SIGHUP)."""
        assert self.process is not None
        self.process.send_signal(1)


def _chown_for_mosquitto(path: Path) -> None:
    # Started as root, mosquitto drops to the 'mosquitto' user and must still read its files.
    if os.geteuid() != 0:
        return
    try:
        import pwd

        entry = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)
