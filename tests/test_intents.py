"""The intent matcher (hassil + Home Assistant's sentences) on the home's own names; no models."""

from __future__ import annotations

import pytest

from bench.intent_cases import HOME
from hub.home.intents import IntentMatcher
from hub.home.model import Entity, HomeSource


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher(lambda: HOME)


@pytest.mark.parametrize(("said", "area", "name", "slots"), [
    ("Turn on the kettle.", "Kitchen", "turn_on", {"name": "kettle"}),
    ("switch the big light off please", "Kitchen", "turn_off", {"name": "big light"}),  # an alias
    ("Turn on the lights.", "Office", "turn_on", {"area": "Office", "domain": "light", "all": False}),
    ("Turn off all the lights", "Office", "turn_off", {"domain": "light", "all": True}),
    ("Turn on the lights in the living room", "Kitchen", "turn_on", {"area": "Living Room"}),
    ("Turn off the upstairs lights", "Kitchen", "turn_off", {"floor": "Upstairs"}),
    ("Set the desk lamp to 40%", "Kitchen", "light_set", {"name": "desk lamp", "brightness": 40}),
    ("Set the kitchen light to red", "Kitchen", "light_set", {"color": "red"}),
    ("Set the bedroom blinds to 30 percent", "Kitchen", "set_position", {"position": 30}),
    ("Set the thermostat to 21.5 degrees", "Kitchen", "climate_set_temperature", {"temperature": 21.5}),
    ("Is the kettle on?", "Kitchen", "get_state", {"name": "kettle", "state": "on"}),
    ("What is the temperature in the living room?", "Kitchen", "climate_get_temperature", {"area": "Living Room"}),
    ("Set a 10 minute timer called pasta", "Kitchen", "timer_start", {"seconds": 600, "name": "pasta"}),
    ("Pause the pasta timer", "Kitchen", "timer_pause", {"name": "pasta"}),
    ("Cancel all timers", "Kitchen", "timer_cancel", {"all": True}),
    ("How long is left on my timer?", "Kitchen", "timer_list", {}),
    ("What time is it?", "Kitchen", "time", {}),
    ("What day is it today?", "Kitchen", "date", {}),
    ("Set the volume to 30%", "Kitchen", "volume", {"level": 30}),
    ("Louder", "Kitchen", "volume", {"step": 10}),
    ("Unmute the microphone", "Kitchen", "mute", {"muted": False}),
    ("Never mind.", "Kitchen", "nevermind", {}),
    ("Stop.", "Kitchen", "stop", {}),
])
def test_phrasings_become_intents_with_the_homes_names(matcher, said, area, name, slots):
    intent = matcher.match(said, area)
    assert intent is not None, said
    assert intent.name == name
    assert {k: intent.slots.get(k) for k in slots} == slots


@pytest.mark.parametrize("said", ["Why is the sky blue?", "Tell me a joke.", "What is the capital of France",
                                  "What does a kettle do?", "", "   "])
def test_what_is_not_a_command_goes_to_the_language_model(matcher, said):
    assert matcher.match(said, "Kitchen") is None


def test_an_unknown_device_is_still_a_device_command(matcher):
    intent = matcher.match("Turn on the toaster.", "Kitchen")
    assert intent is not None and intent.name == "turn_on"
    assert intent.slots["name"] == "toaster" and intent.slots["unknown"] is True
    question = matcher.match("Is the toaster on?", "Kitchen")
    assert question is not None and question.name == "get_state" and question.slots["name"] == "toaster"


def test_a_leftover_first_clause_does_not_hide_the_command(matcher):
    intent = matcher.match("And Service, turn on the kettle.", "Kitchen")
    assert intent is not None and intent.name == "turn_on" and intent.slots["name"] == "kettle"


def test_a_new_device_is_matched_once_the_home_reports_it():
    home = list(HOME)
    matcher = IntentMatcher(lambda: home)
    assert (matcher.match("Turn on the espresso machine", "Kitchen") or None).slots.get("unknown") is True
    home.append(Entity("switch.espresso", "Espresso machine", HomeSource.MQTT, area="Kitchen"))
    intent = matcher.match("Turn on the espresso machine", "Kitchen")
    assert intent is not None and intent.slots == {"name": "espresso machine", "all": False}


def test_an_entity_hidden_from_assist_is_not_matched():
    home = [Entity("switch.safe", "Safe", HomeSource.HOME_ASSISTANT, area="Office", exposed=False)]
    intent = IntentMatcher(lambda: home).match("Turn on the safe", "Office")
    assert intent is not None and intent.slots.get("unknown") is True


def test_a_known_device_with_a_command_word_but_no_sentence_is_asked_again_not_given_to_the_llm(matcher):
    # "Set" misheard as "at": the language model would happily claim it set the lamp.
    intent = matcher.match("at the desk lamp brightness to 40%", "Kitchen")
    assert intent is not None and intent.name == "device_unclear" and intent.slots == {"name": "desk lamp"}
    for said in ("How hot does the kettle get in degrees?", "My kettle is 20 years old.", "How do I clean the desk lamp?"):
        assert matcher.match(said, "Kitchen") is None, said
