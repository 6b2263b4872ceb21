"""The Home Assistant backend against a real Home Assistant (2024.3.3 and 2025.4.4, testbed/ha_peer.py).

What a user would notice: the hub knows the devices by the names, aliases and rooms set in HA; a
command changes the real entity and the hub hears the change; a wrong token or a stopped HA is
reported with a clear code, nothing crashes, and the hub is back by itself once HA is; text the hub
passes to Assist is answered by HA.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from hub.home.home_assistant import HomeAssistantBackend
from hub.home.model import Action, EntityState, HomeError, HomeSource
from hub.home.settings import HomeAssistantSettings
from testbed.ha_peer import FLOORS, HOME, HomeAssistantPeer

pytestmark = pytest.mark.peers


def settings_for(ha: HomeAssistantPeer, **overrides: object) -> HomeAssistantSettings:
    values: dict[str, object] = {"url": ha.url, "token_file": ha.token_file, "timeout_s": 5,
                                 "reconnect_min_s": 0.1, "reconnect_max_s": 0.5}
    values.update(overrides)
    return HomeAssistantSettings.model_validate(values)


@pytest.fixture
async def backend(home_assistant: HomeAssistantPeer) -> AsyncIterator[HomeAssistantBackend]:
    async with HomeAssistantBackend(settings_for(home_assistant)) as link:
        assert await link.wait_available(15), f"no link to Home Assistant: {link.last_error}"
        yield link


class StateLog:
    """The states a backend reports, to wait for one a user would expect."""

    def __init__(self, link: HomeAssistantBackend) -> None:
        self.link = link
        self.seen: list[EntityState] = []
        self._changed = asyncio.Event()
        self.unsubscribe = link.subscribe(self._on_state)

    def _on_state(self, state: EntityState) -> None:
        self.seen.append(state)
        self._changed.set()

    async def wait_for(self, entity_id: str, state: str, timeout: float = 5.0, **attributes: object) -> EntityState:
        async with asyncio.timeout(timeout):
            while True:
                for seen in [*self.seen, self.link.state(entity_id)]:
                    if seen is None:
                        continue
                    if (seen.entity_id == entity_id and seen.state == state
                            and all(seen.attributes.get(k) == v for k, v in attributes.items())):
                        return seen
                self._changed.clear()
                await self._changed.wait()


async def ha_state(ha: HomeAssistantPeer, entity_id: str) -> dict:
    state = await asyncio.to_thread(ha.state, entity_id)
    assert state is not None, f"Home Assistant has no {entity_id}"
    return state


async def test_entities_have_the_names_rooms_and_aliases_set_in_home_assistant(
        home_assistant: HomeAssistantPeer, backend: HomeAssistantBackend) -> None:
    entities = {e.entity_id: e for e in backend.entities()}
    for entity_id, placement in HOME.items():
        entity = entities[entity_id]
        assert entity.source is HomeSource.HOME_ASSISTANT
        assert (entity.area or None) == placement.area, entity_id
        assert entity.aliases == tuple(sorted(placement.aliases)), entity_id
        assert entity.exposed is placement.exposed, entity_id
        expected_floor = FLOORS.get(placement.area or "") if home_assistant.has_floors else None
        assert entity.floor == expected_floor, entity_id
    assert entities["light.kitchen_ceiling"].name == "Kitchen ceiling"
    assert entities["light.kitchen_ceiling"].features == {"brightness"}
    assert entities["light.kitchen_counter"].features == frozenset()
    assert entities["cover.bedroom_blind"].features == {"position"}
    assert entities["climate.living_room_thermostat"].features == {"temperature"}
    climate = backend.state("climate.living_room_thermostat")
    assert climate is not None
    assert climate.attributes["current_temperature"] == (await ha_state(home_assistant, climate.entity_id))[
        "attributes"]["current_temperature"]
    assert backend.ha_version == home_assistant.version


async def test_a_service_call_changes_the_real_entity_and_the_change_comes_back(
        home_assistant: HomeAssistantPeer, backend: HomeAssistantBackend) -> None:
    await backend.call(Action("light.kitchen_ceiling", "turn_off"))
    await asyncio.to_thread(home_assistant.wait_state, "light.kitchen_ceiling", "off")
    log = StateLog(backend)

    await backend.call(Action("light.kitchen_ceiling", "turn_on", {"brightness": 128}))
    heard = await log.wait_for("light.kitchen_ceiling", "on", brightness=128)
    real = await ha_state(home_assistant, "light.kitchen_ceiling")
    assert (real["state"], real["attributes"]["brightness"]) == ("on", 128)
    assert backend.state("light.kitchen_ceiling") == heard

    await backend.call(Action("cover.bedroom_blind", "set_cover_position", {"position": 30}))
    await log.wait_for("cover.bedroom_blind", "open", current_position=30)
    await backend.call(Action("climate.living_room_thermostat", "set_temperature", {"temperature": 22.5}))
    await log.wait_for("climate.living_room_thermostat", "heat", temperature=22.5)
    assert (await ha_state(home_assistant, "climate.living_room_thermostat"))["attributes"]["temperature"] == 22.5
    log.unsubscribe()


async def test_hidden_unknown_and_refused_actions_are_clear_errors_and_the_link_stays_up(
        home_assistant: HomeAssistantPeer, backend: HomeAssistantBackend) -> None:
    before = (await ha_state(home_assistant, "input_boolean.heater_power"))["state"]
    with pytest.raises(HomeError) as hidden:
        await backend.call(Action("input_boolean.heater_power", "toggle"))
    assert hidden.value.code == "not_exposed"
    assert (await ha_state(home_assistant, "input_boolean.heater_power"))["state"] == before

    with pytest.raises(HomeError) as unknown:
        await backend.call(Action("light.attic", "turn_on"))
    assert unknown.value.code == "unknown_entity"

    with pytest.raises(HomeError) as refused:
        await backend.call(Action("light.kitchen_counter", "fly_to_the_moon"))
    assert refused.value.code == "ha_rejected"
    assert "fly_to_the_moon" in str(refused.value)

    assert backend.available
    await backend.call(Action("light.kitchen_counter", "turn_on"))
    await asyncio.to_thread(home_assistant.wait_state, "light.kitchen_counter", "on")


async def test_a_wrong_token_is_reported_and_a_corrected_token_file_is_picked_up(
        home_assistant: HomeAssistantPeer, tmp_path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-a-token\n")
    links: list[tuple[bool, str | None]] = []
    async with HomeAssistantBackend(settings_for(home_assistant, token_file=token_file)) as link:
        link.add_link_listener(lambda up, error: links.append((up, error and error.code)))
        assert not await link.wait_available(2)
        assert link.last_error is not None and link.last_error.code == "ha_auth_invalid"
        assert str(token_file) in str(link.last_error)
        for attempt in (link.call(Action("light.kitchen_counter", "turn_on")),
                        link.process_conversation("turn on the kitchen counter", "en")):
            with pytest.raises(HomeError) as refused:
                await attempt
            assert refused.value.code == "ha_auth_invalid"

        token_file.write_text(home_assistant.token)
        assert await link.wait_available(5), link.last_error
        assert any(e.entity_id == "light.kitchen_counter" for e in link.entities())
    assert (False, "ha_auth_invalid") in links and (True, None) in links


async def test_a_missing_token_file_is_reported_and_nothing_is_sent(
        home_assistant: HomeAssistantPeer, tmp_path) -> None:
    async with HomeAssistantBackend(settings_for(home_assistant, token_file=tmp_path / "nowhere")) as link:
        assert not await link.wait_available(1)
        assert link.last_error is not None and link.last_error.code == "ha_token_missing"
        assert "nowhere" in str(link.last_error)
        with pytest.raises(HomeError) as refused:
            await link.call(Action("light.kitchen_counter", "turn_on"))
        assert refused.value.code == "ha_token_missing"


def test_settings_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        HomeAssistantSettings(url="homeassistant.local:8123", token_file="t")
    with pytest.raises(ValueError, match="token_file is required"):
        HomeAssistantSettings(url="http://homeassistant.local:8123")
    assert not HomeAssistantSettings().enabled
    assert HomeAssistantSettings(url="https://ha.example:8123/", token_file="t").websocket_url == \
        "wss://ha.example:8123/api/websocket"


async def test_home_assistant_stopped_then_back(home_assistant: HomeAssistantPeer, tmp_path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(home_assistant.token)
    async with HomeAssistantBackend(settings_for(home_assistant, token_file=token_file)) as link:
        assert await link.wait_available(10), link.last_error
        changes: list[tuple[bool, str | None]] = []
        link.add_link_listener(lambda up, error: changes.append((up, error and error.code)))
        log = StateLog(link)
        await asyncio.to_thread(home_assistant.stop)
        async with asyncio.timeout(5):
            while link.available:
                await asyncio.sleep(0.02)
        with pytest.raises(HomeError) as down:
            await link.call(Action("light.living_room_lamp", "turn_on"))
        assert down.value.code in {"ha_unreachable", "ha_unavailable"}

        # The lamp changes while the hub is not connected (HA is back, but refuses the hub until its
        # token file is right again): once connected, the hub must know the new state and say so.
        token_file.write_text("outdated")
        await asyncio.to_thread(home_assistant.start)
        async with asyncio.timeout(10):
            while link.last_error is None or link.last_error.code != "ha_auth_invalid":
                await asyncio.sleep(0.02)
        before = link.state("light.living_room_lamp")
        assert before is not None
        await asyncio.to_thread(home_assistant.call_service, "input_boolean", "toggle",
                                entity_id="input_boolean.living_room_lamp_power")
        expected = (await ha_state(home_assistant, "light.living_room_lamp"))["state"]
        assert expected != before.state
        assert not link.available
        token_file.write_text(home_assistant.token)
        assert await link.wait_available(10), link.last_error
        assert link.state("light.living_room_lamp") == EntityState(
            "light.living_room_lamp", expected, (await ha_state(home_assistant, "light.living_room_lamp"))["attributes"])
        assert ("light.living_room_lamp", expected) in [(seen.entity_id, seen.state) for seen in log.seen]
        await link.call(Action("light.living_room_lamp", "turn_off"))
        await asyncio.to_thread(home_assistant.wait_state, "light.living_room_lamp", "off")
    assert changes[0][0] is False and changes[0][1] in {"ha_disconnected", "ha_unreachable"}, changes
    assert (False, "ha_auth_invalid") in changes and (True, None) in changes, changes


async def test_assist_answers_text_and_says_none_when_it_does_not_understand(
        home_assistant: HomeAssistantPeer, backend: HomeAssistantBackend) -> None:
    await asyncio.to_thread(home_assistant.call_service, "light", "turn_off", entity_id="light.living_room_lamp")
    answer = await backend.process_conversation("turn on the living room lamp", "en")
    assert answer and "turned on" in answer.lower()
    await asyncio.to_thread(home_assistant.wait_state, "light.living_room_lamp", "on")
    assert await backend.process_conversation("what is the airspeed velocity of an unladen swallow", "en") is None
    assert await backend.process_conversation("tell me a joke about penguins", "en") is None


async def test_aliases_changed_in_home_assistant_reach_the_hub(
        home_assistant: HomeAssistantPeer, backend: HomeAssistantBackend) -> None:
    await home_assistant.ws({"type": "config/entity_registry/update", "entity_id": "switch.coffee_maker",
                             "aliases": ["coffee machine", "espresso"]})
    try:
        async with asyncio.timeout(5):
            while "espresso" not in next(e for e in backend.entities() if e.entity_id == "switch.coffee_maker").aliases:
                await asyncio.sleep(0.05)
    finally:
        await home_assistant.ws({"type": "config/entity_registry/update", "entity_id": "switch.coffee_maker",
                                 "aliases": list(HOME["switch.coffee_maker"].aliases)})


async def test_home_assistant_joins_the_test_broker_through_the_mqtt_config_flow(
        home_assistant: HomeAssistantPeer, broker) -> None:
    hub = broker.settings("hub")
    async with aiomqtt.Client("127.0.0.1", broker.port, username="hub", password=hub.password,
                              identifier="hub") as client:
        await client.subscribe("homeassistant/status")
        entry_id = await asyncio.to_thread(home_assistant.connect_mqtt, broker)
        try:
            async with asyncio.timeout(15):
                async for message in client.messages:
                    if message.payload == b"online":
                        break
        finally:
            await asyncio.to_thread(home_assistant.disconnect_mqtt, entry_id)


async def test_the_hub_reports_its_home_assistant_link_and_sees_the_home(
        home_assistant: HomeAssistantPeer, hub_models, tmp_path) -> None:
    from hub.app import Hub
    from hub.settings import HubSettings
    from testbed.broker import free_port

    token_file = tmp_path / "ha-token"
    token_file.write_text("expired-token\n")
    metrics_port = free_port()
    hub = Hub(HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "mqtt": {"enabled": False}, "wyoming": {"enabled": False},
        "metrics_port": metrics_port, "home_assistant": {
            "url": home_assistant.url, "token_file": str(token_file), "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.3}}), hub_models)

    async def scraped() -> str:
        return await asyncio.to_thread(lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode())

    await hub.start()
    try:
        async with asyncio.timeout(5):
            while "home_assistant" not in hub.problems:
                await asyncio.sleep(0.05)
        assert "ha_auth_invalid" in hub.problems["home_assistant"]
        assert "hearth_home_assistant_up 0.0" in await scraped()

        token_file.write_text(home_assistant.token)
        async with asyncio.timeout(5):
            while "home_assistant" in hub.problems:
                await asyncio.sleep(0.05)
        assert "hearth_home_assistant_up 1.0" in await scraped()
        names = {e.name for e in hub.home.entities()}
        assert {"Kitchen ceiling", "Bedroom blind", "Living room thermostat"} <= names
    finally:
        await hub.close()
