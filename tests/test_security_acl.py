"""One ACL, walked on a real Mosquitto: every login over every topic family, read and write.

The ACL comes from one renderer (common/broker.py) for the tests, `hearth-broker` and Ansible;
the expectations below are written out by hand, so a change in the renderer that opens or closes
a door fails here. The same walk runs against what the Ansible template renders, and
docs/security.md's table must be the renderer's.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.broker import RESERVED_NAMES, permission_table
from common.local_broker import REPO, MosquittoBroker
from common.mqtt import MqttLink
from protocol.topics import Topics
from testbed.mqtt_probe import ACCEPTED, NOT_AUTHORIZED, probe

pytestmark = pytest.mark.timeout(120)

FAMILIES = {
    "own satellite topic": "voice/v1/satellite/kitchen/state",
    "other satellite topic": "voice/v1/satellite/bedroom/announce",
    "own commands": "voice/v1/command/kitchen",
    "other's commands": "voice/v1/command/bedroom",
    "commands to all": "voice/v1/command/all",
    "own conversation": "voice/v1/conversation/kitchen/state",
    "other conversation": "voice/v1/conversation/bedroom/state",
    "hub state": "voice/v1/hub/state",
    "hub commands": "voice/v1/hub/command",
    "HA status": "homeassistant/status",
    "HA discovery": "homeassistant/sensor/hearth_kitchen/config",
    "MQTT device": "zigbee2mqtt/lamp/set",
}
ALL = set(FAMILIES)
VOICE = {f for f, t in FAMILIES.items() if t.startswith("voice/")}
# (may read, may write), per login. "kitchen" stands for every satellite.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "hub": (ALL, ALL),
    "homeassistant": (VOICE | {"HA status", "HA discovery", "MQTT device"},
                      {"own commands", "other's commands", "commands to all", "hub commands", "HA status",
                       "HA discovery", "MQTT device"}),
    "monitor": (VOICE | {"HA status"}, set()),
    "kitchen": ({"own commands", "commands to all", "own conversation"}, {"own satellite topic"}),
}


def walk(broker: MosquittoBroker) -> dict[str, tuple[set[str], set[str]]]:
    """What each login may actually read and write on the running broker."""
    seed = probe(broker.port, "hub", broker.passwords["hub"])
    for topic in FAMILIES.values():  # something retained on every topic, for the read checks
        assert seed.publish(topic, b"seed", retain=True) in ACCEPTED
    seed.close()
    found: dict[str, tuple[set[str], set[str]]] = {}
    for user in EXPECTED:
        client = probe(broker.port, user, broker.passwords[user], subscribe=list(FAMILIES.values()))
        time.sleep(1.0)  # retained messages arrive right after each SUBACK
        readable = {f for f, t in FAMILIES.items() if client.received(t)}
        codes = {f: client.publish(t, b"probe") for f, t in FAMILIES.items()}
        client.close()
        assert set(codes.values()) <= {*ACCEPTED, NOT_AUTHORIZED}, codes
        found[user] = (readable, {f for f, code in codes.items() if code in ACCEPTED})
    return found


@pytest.mark.slow  # every login against every topic family: hundreds of real publishes
def test_every_login_over_every_topic_family(broker):
    assert walk(broker) == EXPECTED


@pytest.mark.slow  # renders with Ansible's Jinja and re-runs the whole ACL check
def test_the_ansible_template_renders_the_same_acl_and_it_holds(broker):
    import jinja2

    sys.path.insert(0, str(REPO / "ansible/roles/broker/filter_plugins"))
    try:
        import hearth_acl
    finally:
        sys.path.pop(0)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "ansible/roles/broker/templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(hearth_acl.FilterModule().filters())
    rendered = env.get_template("acl.j2").render(
        ansible_managed="Ansible managed", hearth_mqtt_root=broker.root,
        broker_satellites=[u for u in broker.devices if u not in ("hub", "homeassistant", "monitor")])
    acl = broker.workdir / "acl"
    assert rendered.split("\n", 1)[1] == acl.read_text() + "\n"  # the renderer the tests use, byte for byte
    acl.write_text(rendered)
    broker.reload()
    time.sleep(0.3)
    assert walk(broker) == EXPECTED
    for reserved in sorted(RESERVED_NAMES):
        with pytest.raises(Exception, match="reserved"):
            hearth_acl.hearth_acl(["kitchen", reserved])


def test_docs_security_table_is_the_rendered_acl():
    docs = (REPO / "docs/security.md").read_text()
    table = re.search(r"<!-- acl-table: .*? -->\n(.*?)<!-- /acl-table -->", docs, re.S)
    assert table is not None, "docs/security.md lost its generated ACL table markers"
    assert table.group(1) == permission_table(Topics()), (
        "docs/security.md's table differs from common/broker.py; paste this:\n" + permission_table(Topics()))


def admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "common.broker_admin", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow  # runs the install helper and starts its broker
def test_hearth_broker_init_sets_up_a_plain_mosquitto_and_refuses_reserved_names(tmp_path):
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="hearth-init-"))  # mosquitto (its own user) must enter it
    work.chmod(0o755)
    secrets_dir = tmp_path / "secrets"
    files = ["--passwd", str(work / "passwd"), "--acl", str(work / "acl")]
    done = admin("init", *files, "--secrets-dir", str(secrets_dir))
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["created"] * 3
    added = admin("add-satellite", "kitchen", *files)
    assert added.returncode == 0, added.stderr
    for name in sorted(RESERVED_NAMES):
        refused = admin("add-satellite", name, *files)
        assert refused.returncode == 2 and "reserved" in refused.stderr, (name, refused.stderr)
    again = admin("init", *files, "--secrets-dir", str(secrets_dir))  # idempotent: nobody is re-keyed
    assert again.stdout.count("kept") == 3, again.stdout
    for path in (work / "passwd", work / "acl", *secrets_dir.iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    passwords = {u: (secrets_dir / f"{u}-mqtt-password").read_text().strip() for u in ("hub", "homeassistant", "monitor")}
    passwords["kitchen"] = next(line.split('"')[1] for line in added.stdout.splitlines() if line.startswith("password"))

    # The shipped mosquitto.conf, pointed at these files (what `prepare()` would have generated is not used).
    broker = MosquittoBroker(work, passwords=passwords)
    (work / "data").mkdir()
    broker.conf_path.write_text(broker._rewrite((REPO / "mosquitto.conf").read_text()))
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "mosquitto", str(work)], check=True)
    broker.start()
    try:
        assert walk(broker) == EXPECTED
    finally:
        broker.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


async def test_a_login_cannot_take_over_another_logins_session(broker):
    """A kitchen login using the hub's client id gets its own session; the hub stays connected, commands run once."""
    hub = MqttLink(broker.settings("hub"), "hearth-hub-hub")
    commands: list[object] = []

    async def on_command(topic: str, message: object) -> None:
        commands.append(message)

    hub.subscribe(hub.topics.command("kitchen"), on_command)
    def impostors_then_a_command() -> int:
        for _ in range(5):
            impostor = probe(broker.port, "kitchen", broker.passwords["kitchen"], client_id="hearth-hub-hub",
                             subscribe=["voice/v1/command/kitchen"], clean_start=False)
            time.sleep(0.2)
            impostor.close()
        ha = probe(broker.port, "homeassistant", broker.passwords["homeassistant"])
        code = ha.publish("voice/v1/command/kitchen", b'{"command": "stop", "id": "c1"}')
        ha.close()
        return code

    async with hub.running():
        assert await asyncio.to_thread(impostors_then_a_command) in ACCEPTED
        for _ in range(100):
            if commands:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # a second copy (a merged session) would arrive by now
        assert hub.stats.connects == 1, "the hub was kicked off"
    assert len(commands) == 1
    log = broker.log_path.read_text()
    assert "as kitchen (" in log and "as hearth-hub-hub" not in log
