"""A real Home Assistant for the tests: started from a peer venv, onboarded from code, a known home.

The peers are installed by ``scripts/install-peers.sh`` (``scripts/install.sh`` runs it):
``.venv-peers/ha-2024.3`` (2024.3.3, Python 3.11) and ``.venv-peers/ha-current`` (2025.4.4, Python 3.13).
HA runs as ``hass -c DIR --skip-pip`` in a throwaway folder, on a free port on 127.0.0.1, with
``testbed/ha_home/configuration.yaml``: template lights, a template switch and cover, a generic
thermostat, a template weather and input helpers. No hardware, no network.

Fixtures (``home_assistant`` is defined in tests/conftest.py on top of this module):

- ``home_assistant`` (session scope, parametrised ``ha-2024.3`` / ``ha-current``): a running, onboarded
  :class:`HomeAssistantPeer` whose home is :data:`HOME` (areas, floors where HA has them, aliases,
  what is exposed to Assist). Tests that stop or restart it must leave it running.
- ``start_home_assistant(name)``: the same as a context manager, for one version only.

:class:`HomeAssistantPeer`:

- ``url``, ``token`` (long-lived), ``token_file`` (the token in a file, for ``[home_assistant] token_file``),
  ``version``, ``start_s`` (seconds from process start to HA "RUNNING"), ``has_floors``.
- ``state(entity_id) -> dict | None`` (REST), ``wait_state(entity_id, state, timeout)``,
  ``call_service(domain, service, **data)`` (REST); blocking: in async tests use ``asyncio.to_thread``.
- ``await ws(*commands) -> list`` runs websocket commands (dicts without ``id``) on one connection and
  returns their results (raises :class:`HAError` on a failed one); ``ws_sync`` for sync code.
- ``connect_mqtt(broker, username="homeassistant")``: the MQTT config flow against a
  :class:`common.local_broker.MosquittoBroker`, with that user's password; returns the config entry id.
  ``disconnect_mqtt(entry_id)`` removes it. Any other integration: ``add_integration(handler, *steps)``
  answers its config flow's forms in order (e.g. ``add_integration("wyoming", {"host": h, "port": p})``),
  ``remove_integration(entry_id)``. Entries stay across ``restart()``: remove them at the end of a test.
- ``stop()``, ``start()``, ``restart()`` (same folder, port and token; callable from any thread),
  ``log_tail()`` (HA's own log, for assertion messages).
- The home's helpers (``input_boolean.*_power``, ``input_number.*``) are what the devices act on: a
  test can change a device "by hand" through them, as a person at the switch would.

``python testbed/ha_peer.py requirements`` (run with a peer's own Python) prints the pip requirements of
the integrations the test home uses, for the installer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python testbed/ha_peer.py requirements` runs with a peer's own Python, from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.processes import stop_process  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HOME_CONFIG = Path(__file__).resolve().parent / "ha_home" / "configuration.yaml"
PEERS = {"2024.3": "ha-2024.3", "current": "ha-current"}
"""Fixture parameter -> venv under .venv-peers/."""
USERNAME, PASSWORD = "hearth", "hearth-test-password"
FLOW_INTEGRATIONS = ("mqtt", "wyoming")
"""Integrations the tests add through config flows (not in configuration.yaml); installed all the same."""


@dataclass(frozen=True)
class Placement:
    area: str | None
    aliases: tuple[str, ...] = ()
    exposed: bool = True


FLOORS = {"Kitchen": "Ground floor", "Living Room": "Ground floor", "Bedroom": "First floor"}
"""Area -> floor (HA 2024.4 and later)."""
HOME: dict[str, Placement] = {
    "light.kitchen_ceiling": Placement("Kitchen", ("ceiling light", "big light")),
    "light.kitchen_counter": Placement("Kitchen", ("counter lights",)),
    "light.living_room_lamp": Placement("Living Room", ("reading lamp",)),
    "light.bedroom_ceiling": Placement("Bedroom", ("ceiling light",)),
    "switch.coffee_maker": Placement("Kitchen", ("coffee machine",)),
    "cover.bedroom_blind": Placement("Bedroom", ("blind",)),
    "climate.living_room_thermostat": Placement("Living Room", ("heating",)),
    "sensor.living_room_temperature": Placement("Living Room"),
    "weather.home_weather": Placement(None),
    "input_boolean.guest_mode": Placement(None),
    # The helpers behind the devices stay hidden from Assist, as a user would keep them.
    "input_boolean.heater_power": Placement(None, exposed=False),
    "input_boolean.kitchen_counter_power": Placement(None, exposed=False),
    "input_boolean.living_room_lamp_power": Placement(None, exposed=False),
    "input_boolean.coffee_maker_power": Placement(None, exposed=False),
}
"""The test home: entity -> area, aliases and whether Assist may see it."""


class HAError(RuntimeError):
    """A websocket command failed: ``code`` is HA's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class HomeAssistantPeer:
    def __init__(self, venv: Path, workdir: Path) -> None:
        self.venv = venv
        self.workdir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.version = ""
        self.start_s = 0.0
        self.has_floors = False
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def token_file(self) -> Path:
        return self.workdir / "token"

    # -- process -------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        config = HOME_CONFIG.read_text()
        http = f"http:\n  server_host: 127.0.0.1\n  server_port: {self.port}\n"
        (self.workdir / "configuration.yaml").write_text(http + config)
        started = time.monotonic()
        out = open(self.workdir / "hass.out", "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "hass"), "-c", str(self.workdir), "--skip-pip"],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL,
        )
        out.close()
        deadline = started + timeout
        steps = self._wait_json("/api/onboarding", deadline, token=None)
        if not self.token:
            if not any(s["step"] == "user" and s["done"] for s in steps):
                self._onboard()
            else:
                self.token = self.token_file.read_text().strip()
        while True:
            config_now = self._wait_json("/api/config", deadline)
            if config_now.get("state", "RUNNING") == "RUNNING":
                break
            self._sleep_or_fail(deadline, "HA did not reach RUNNING")
        self.version = str(config_now["version"])
        self.start_s = time.monotonic() - started

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process, timeout_s=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        path = self.workdir / "hass.out"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _sleep_or_fail(self, deadline: float, what: str) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"Home Assistant exited ({self.process.returncode}):\n{self.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}:\n{self.log_tail()}")
        time.sleep(0.2)

    def _wait_json(self, path: str, deadline: float, token: str | None = "") -> Any:
        while True:
            try:
                return self.rest("GET", path, token=token)
            except (OSError, urllib.error.URLError):
                self._sleep_or_fail(deadline, f"Home Assistant did not answer {path}")

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, method: str, path: str, body: Any = None, *, token: str | None = "", form: bool = False) -> Any:
        """One REST call; ``token=""`` uses the peer's token, None sends none. HTTP errors raise."""
        headers = {}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        bearer = self.token if token == "" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def state(self, entity_id: str) -> dict[str, Any] | None:
        try:
            return self.rest("GET", f"/api/states/{entity_id}")
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    def wait_state(self, entity_id: str, state: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            current = self.state(entity_id)
            if current is not None and current["state"] == state:
                return current
            if time.monotonic() > deadline:
                raise AssertionError(f"{entity_id} is {current and current['state']!r}, not {state!r}")
            time.sleep(0.05)

    def call_service(self, domain: str, service: str, **data: Any) -> Any:
        return self.rest("POST", f"/api/services/{domain}/{service}", data)

    # -- websocket -----------------------------------------------------------------------------

    async def ws(self, *commands: dict[str, Any], token: str | None = None) -> list[Any]:
        import aiohttp

        results = []
        async with aiohttp.ClientSession() as session, session.ws_connect(self.url + "/api/websocket") as sock:
            await sock.receive_json()  # auth_required
            await sock.send_json({"type": "auth", "access_token": token or self.token})
            answer = await sock.receive_json()
            if answer["type"] != "auth_ok":
                raise HAError("auth_invalid", str(answer.get("message")))
            for number, command in enumerate(commands, start=1):
                await sock.send_json({"id": number, **command})
                while True:
                    reply = await sock.receive_json(timeout=30)
                    if reply.get("id") == number and reply["type"] == "result":
                        break
                if not reply["success"]:
                    raise HAError(reply["error"]["code"], f"{command['type']}: {reply['error']['message']}")
                results.append(reply["result"])
        return results

    def ws_sync(self, *commands: dict[str, Any], token: str | None = None) -> list[Any]:
        return asyncio.run(self.ws(*commands, token=token))

    async def entry_entity(self, entry_id: str, domain: str, timeout: float = 30.0) -> str:
        """The first ``domain`` entity of config entry ``entry_id`` (e.g. a Wyoming entry's stt), once HA made it."""
        deadline = time.monotonic() + timeout
        while True:
            (entities,) = await self.ws({"type": "config/entity_registry/list"})
            found = [e["entity_id"] for e in entities if e.get("config_entry_id") == entry_id
                     and e["entity_id"].startswith(f"{domain}.")]
            if found:
                return str(found[0])
            if time.monotonic() > deadline:
                raise HAError("no_entity", f"no {domain} entity for config entry {entry_id}\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    # -- onboarding and the home ---------------------------------------------------------------

    def _onboard(self) -> None:
        client_id = self.url + "/"
        user = self.rest("POST", "/api/onboarding/users", {
            "client_id": client_id, "name": "Hearth Test", "username": USERNAME,
            "password": PASSWORD, "language": "en",
        }, token=None)
        tokens = self.rest("POST", "/auth/token", {
            "grant_type": "authorization_code", "code": user["auth_code"], "client_id": client_id,
        }, token=None, form=True)
        access = tokens["access_token"]
        # Not the core_config step: it adds met.no, radio browser and shopping list, which reach the internet.
        self.rest("POST", "/api/onboarding/analytics", {}, token=access)
        self.rest("POST", "/api/onboarding/integration", {"client_id": client_id, "redirect_uri": client_id},
                  token=access)
        (long_lived,) = self.ws_sync(
            {"type": "auth/long_lived_access_token", "client_name": "hearth tests", "lifespan": 3650},
            token=access)
        self.token = long_lived
        self.token_file.write_text(long_lived + "\n")

    def setup_home(self) -> None:
        """Areas, floors, aliases and Assist exposure as :data:`HOME` says."""
        (areas,) = self.ws_sync({"type": "config/area_registry/list"})
        area_ids = {a["name"].casefold(): a["area_id"] for a in areas}
        wanted = {p.area for p in HOME.values() if p.area}
        for name in sorted(wanted):
            if name.casefold() not in area_ids:
                (created,) = self.ws_sync({"type": "config/area_registry/create", "name": name})
                area_ids[name.casefold()] = created["area_id"]
        # 2024.3 already answers floor_registry/list, but its areas have no floor_id yet.
        (areas,) = self.ws_sync({"type": "config/area_registry/list"})
        self.has_floors = all("floor_id" in a for a in areas)
        if self.has_floors:
            (floors,) = self.ws_sync({"type": "config/floor_registry/list"})
            floor_ids = {f["name"]: f["floor_id"] for f in floors}
            for level, name in enumerate(dict.fromkeys(FLOORS.values())):
                if name not in floor_ids:
                    (created,) = self.ws_sync({"type": "config/floor_registry/create", "name": name, "level": level})
                    floor_ids[name] = created["floor_id"]
            self.ws_sync(*({"type": "config/area_registry/update", "area_id": area_ids[a.casefold()],
                            "floor_id": floor_ids[f]} for a, f in FLOORS.items()))
        updates = [{"type": "config/entity_registry/update", "entity_id": entity_id,
                    "area_id": area_ids[p.area.casefold()] if p.area else None, "aliases": list(p.aliases)}
                   for entity_id, p in HOME.items()]
        for exposed in (True, False):
            updates.append({"type": "homeassistant/expose_entity", "assistants": ["conversation"],
                            "entity_ids": [e for e, p in HOME.items() if p.exposed is exposed],
                            "should_expose": exposed})
        self.ws_sync(*updates)

    def add_integration(self, handler: str, *steps: dict[str, Any]) -> str:
        """Run ``handler``'s config flow, answering each form with the next of ``steps``; the entry id."""
        result = self.rest("POST", "/api/config/config_entries/flow",
                           {"handler": handler, "show_advanced_options": False})
        for data in steps:
            if result.get("type") != "form":
                break
            result = self.rest("POST", f"/api/config/config_entries/flow/{result['flow_id']}", data)
        if result.get("type") != "create_entry":
            raise RuntimeError(f"{handler} config flow did not create an entry: {result}")
        return str(result["result"]["entry_id"])

    def remove_integration(self, entry_id: str) -> None:
        self.rest("DELETE", f"/api/config/config_entries/entry/{entry_id}")

    def connect_mqtt(self, broker: Any, username: str = "homeassistant") -> str:
        """HA's MQTT integration on ``broker`` (a MosquittoBroker) through the config flow; the entry id."""
        return self.add_integration("mqtt", {"broker": "127.0.0.1", "port": broker.port, "username": username,
                                             "password": broker.passwords[username]})

    def disconnect_mqtt(self, entry_id: str) -> None:
        self.remove_integration(entry_id)


def peer_venv(name: str) -> Path:
    return REPO / ".venv-peers" / PEERS[name]


@contextlib.contextmanager
def start_home_assistant(name: str) -> Iterator[HomeAssistantPeer]:
    """A running, onboarded HA (``name`` a key of :data:`PEERS`) with the test home; stopped afterwards."""
    import pytest

    venv = peer_venv(name)
    if not (venv / "bin" / "hass").exists():
        if name == "current" and not list(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
                                          .glob("versions/3.13.*/bin/python3.13")):
            pytest.skip("the current Home Assistant needs Python 3.13 (pyenv), which this machine lacks")
        pytest.fail(f"{venv} is missing: run scripts/install-peers.sh {PEERS[name]}")
    workdir = Path(tempfile.mkdtemp(prefix="hearth-ha-"))
    peer = HomeAssistantPeer(venv, workdir)
    try:
        peer.start()
        peer.setup_home()
        yield peer
    finally:
        peer.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def requirements() -> list[str]:
    """pip requirements of the integrations the test home loads (run with the peer's Python)."""
    import homeassistant.bootstrap as bootstrap
    import homeassistant.components as components
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    config = yaml.load(HOME_CONFIG.read_text(), Loader=Loader)  # noqa: S506 - our own file, SafeLoader subclass
    roots = {"http", "websocket_api", "auth", "isal", *FLOW_INTEGRATIONS, *config}
    for value in config.values():
        if isinstance(value, list):
            roots.update(item["platform"] for item in value if isinstance(item, dict) and "platform" in item)
    for attr in ("CORE_INTEGRATIONS", "CRITICAL_INTEGRATIONS", "DEFAULT_INTEGRATIONS"):
        roots.update(getattr(bootstrap, attr, ()))
    folder = Path(components.__file__).parent
    seen: set[str] = set()
    found: set[str] = set()
    todo = sorted(roots)
    while todo:
        domain = todo.pop()
        manifest = folder / domain / "manifest.json"
        if domain in seen or not manifest.exists():
            continue
        seen.add(domain)
        info = json.loads(manifest.read_text())
        found.update(info.get("requirements", []))
        # after_dependencies are imported when present (analytics -> recorder), so they count too.
        todo.extend(info.get("dependencies", []) + info.get("after_dependencies", []))
        if "zeroconf" in info:  # its config flow imports the zeroconf integration (wyoming on 2024.3)
            todo.append("zeroconf")
    return sorted(found)


if __name__ == "__main__":
    if sys.argv[1:] != ["requirements"]:
        sys.exit("usage: python testbed/ha_peer.py requirements")
    print("\n".join(requirements()))
