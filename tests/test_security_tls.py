"""TLS in one command: scripts/make-certs.sh, then the shipped mosquitto.conf's TLS block, uncommented."""

from __future__ import annotations

import asyncio
import re
import ssl
import stat
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from common.local_broker import REPO, MosquittoBroker, free_port
from common.mqtt import MqttLink

pytestmark = pytest.mark.timeout(120)


def make_certs(out, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO / "scripts/make-certs.sh"), "--out", str(out), *names],
                          capture_output=True, text=True, timeout=60)


def tls_broker(broker: MosquittoBroker) -> tuple[Path, int]:
    """make-certs, then restart the broker with the shipped TLS block uncommented; the certs folder and TLS port."""
    certs = broker.workdir / "certs"
    made = make_certs(certs, "localhost", "127.0.0.1")
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((certs / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((certs / "broker.key").stat().st_mode) == 0o640
    ca_before = (certs / "ca.crt").read_bytes()
    again = make_certs(certs, "localhost", "127.0.0.1")  # a second run re-issues only the broker's certificate
    assert again.returncode == 0 and "reusing the CA" in again.stdout
    assert (certs / "ca.crt").read_bytes() == ca_before

    # The TLS block exactly as shipped, uncommented, with this broker's paths and a free port.
    tls_port = free_port()
    conf = broker.conf_path.read_text()
    block = re.search(r"^# listener 8883\n(?:# .*\n)+", conf, re.M)
    assert block is not None, "mosquitto.conf lost its TLS block"
    enabled = "".join(line[2:] + "\n" for line in block.group(0).splitlines())
    enabled = enabled.replace("listener 8883", f"listener {tls_port} 127.0.0.1").replace(
        "/etc/mosquitto/hearth/certs", str(certs))
    broker.conf_path.write_text(conf + "\n" + enabled)
    broker.stop()
    if subprocess.run(["id", "mosquitto"], capture_output=True).returncode == 0:
        subprocess.run(["chown", "-R", "mosquitto", str(broker.workdir)], check=True)
    broker.start()
    return certs, tls_port


async def test_make_certs_then_the_shipped_tls_listener(broker: MosquittoBroker, tmp_path):
    certs, tls_port = await asyncio.to_thread(tls_broker, broker)
    link = MqttLink(broker.settings("kitchen", port=tls_port, tls=True, ca_file=certs / "ca.crt"), "tls-kitchen")
    async with link.running():
        assert link.connected.is_set()

    other = tmp_path / "other"
    assert (await asyncio.to_thread(make_certs, other, "localhost")).returncode == 0
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", tls_port, username="kitchen", password=broker.passwords["kitchen"],
                                  tls_context=ssl.create_default_context(cafile=str(other / "ca.crt")), timeout=5):
            pass
