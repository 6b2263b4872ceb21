"""Text shaped for the ear, and the home's device states and weather as the prompt and the fast path see them."""

from __future__ import annotations

import pytest

from hub.answers import QuickAnswers
from hub.answers.home_context import HomeContext
from hub.answers.spoken import speakable
from hub.home.model import Entity, EntityState, HomeSource


@pytest.mark.parametrize(("written", "spoken"), [
    ("**Paris** is the capital of *France*.", "Paris is the capital of France."),
    ("## Quick answer\n", "Quick answer"),
    ("- Preheat the oven", "Preheat the oven"),
    ("1. Boil the water", "Boil the water"),
    ("Use `print()` in Python.", "Use print() in Python."),
    ("```python", ""),
    ("See [the guide](https://example.org/guide) for more.", "See the guide for more."),
    ("Great question! 😀", "Great question!"),
    ("It's 12:29 now.", "It's 12 29 now."),
    ("The train leaves at 14:05.", "The train leaves at 2 oh 5 PM."),
    ("Lunch is at 12:00 pm.", "Lunch is at 12 PM."),
    ("Wake up at 7:30 AM.", "Wake up at 7 30 AM."),
    ("It's 5 °C outside.", "It's 5 degrees Celsius outside."),
    ("Set it to 21°C.", "Set it to 21 degrees Celsius."),
    ("It was 1 °C.", "It was 1 degree Celsius."),
    ("Bake at 350°F.", "Bake at 350 degrees Fahrenheit."),
    ("The battery is at 80%.", "The battery is at 80 percent."),
    ("It's -3 °C.", "It's minus 3 degrees Celsius."),
    ("Drive at 50 km/h.", "Drive at 50 kilometres per hour."),
    ("The limit is 70 mph.", "The limit is 70 miles per hour."),
    ("It weighs 2.5 kg.", "It weighs 2.5 kilograms."),
    ("Add 250 ml of milk.", "Add 250 millilitres of milk."),
    ("It costs $5.99.", "It costs 5.99 dollars."),
    ("Rest for 5-10 minutes.", "Rest for 5 to 10 minutes."),
    ("Salt & pepper, e.g. to taste.", "Salt and pepper, for example to taste."),
    ("Born on 1990-05-12.", "Born on 1990-05-12."),
    ("It has 5 million people.", "It has 5 million people."),
])
def test_speakable(written, spoken):
    assert speakable(written) == spoken


def _home() -> HomeContext:
    entities = [
        Entity("light.kitchen_ceiling", "Kitchen ceiling", HomeSource.HOME_ASSISTANT, area="Kitchen"),
        Entity("light.desk_lamp", "Desk lamp", HomeSource.HOME_ASSISTANT, area="Office"),
        Entity("climate.hall", "Thermostat", HomeSource.HOME_ASSISTANT, area="Hall", aliases=("heating",)),
        Entity("cover.garage", "Garage door", HomeSource.MQTT, area="Garage"),
        Entity("lock.front", "Front door lock", HomeSource.HOME_ASSISTANT, area="Hall", exposed=False),
        Entity("weather.home", "Home", HomeSource.HOME_ASSISTANT),
    ]
    states = {
        "light.kitchen_ceiling": EntityState("light.kitchen_ceiling", "on", {"brightness": 128}),
        "light.desk_lamp": EntityState("light.desk_lamp", "off"),
        "climate.hall": EntityState("climate.hall", "heat", {"temperature": 21, "current_temperature": 19.5}),
        "cover.garage": EntityState("cover.garage", "open", {"current_position": 100}),
        "lock.front": EntityState("lock.front", "unlocked"),
        "weather.home": EntityState("weather.home", "rainy", {
            "temperature": 12, "temperature_unit": "°C", "humidity": 85,
            "forecast": [{"datetime": "2026-12-01T00:00:00", "condition": "pouring", "precipitation_probability": 90}],
        }),
    }
    return HomeContext(lambda: entities, lambda entity: states.get(entity.entity_id))


def test_device_states_are_the_devices_the_question_names():
    home = _home()
    assert home.device_states("Is the kitchen ceiling light on?", "office") == (
        "Kitchen ceiling (light, Kitchen) is on at 50% brightness.",)
    assert home.device_states("Is the heating on?", "kitchen") == (
        "Thermostat (climate, Hall): mode heat, set to 21°, currently 19.5°.",)
    assert home.device_states("Did I leave the garage door open?", "kitchen") == (
        "Garage door (cover, Garage) is open, 100% open.",)


def test_device_states_use_the_satellites_room_when_no_room_is_named():
    assert _home().device_states("Are the lights on?", "Office") == ("Desk lamp (light, Office) is off.",)


def test_unexposed_devices_never_reach_the_prompt():
    assert not any("Front door lock" in line for line in _home().device_states("Is the front door lock locked?", "hall"))


def test_a_question_about_nothing_in_the_home_gets_no_device_lines():
    assert _home().device_states("What is the capital of Peru?", "kitchen") == ()


def test_weather_reaches_the_prompt_and_is_answered_without_a_model():
    home = _home()
    lines = home.device_states("Will it rain tomorrow?", "kitchen")
    assert lines == ("Weather (Home): rainy, 12°C, humidity 85%. Forecast: 2026-12-01 00:00: pouring rain, "
                     "90% chance of rain.",)
    answers = QuickAnswers(home)
    from datetime import datetime

    answer = answers("Will it rain tomorrow?", "kitchen", datetime(2026, 11, 30, 13, 29))
    assert answer is not None and answer.kind == "weather"
    assert answer.text == "Right now it's rainy and 12 degrees. Rain is likely next, a 90 percent chance."
    assert "Right now it's rainy" in answers("What's the weather like?", "kitchen", datetime(2026, 11, 30)).text


def test_without_home_control_there_are_no_device_lines():
    assert QuickAnswers().device_states("Is the kitchen light on?", "kitchen") == ()
