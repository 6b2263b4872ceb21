"""What the hub acts on: leftover wake phrases, fillers and politeness come off; fragments and guesses are doubted."""

from __future__ import annotations

import pytest

from hub.home.intents import IntentMatcher
from hub.pipeline.transcript import ASK_AGAIN, Confidence, Doubt, DoubtSettings, ask_again, clean, doubt, wake_phrase

SURE = Confidence(avg_logprob=-0.2, no_speech_prob=0.01)


@pytest.mark.parametrize(("heard", "wake_word", "text"), [
    ("Jarvis, turn on the kitchen lights.", "hey_jarvis", "turn on the kitchen lights"),
    ("hey jarvis turn on the lights", "hey_jarvis", "turn on the lights"),
    ("Hey, Jarvis. Set the thermostat to 21 degrees.", "hey_jarvis", "Set the thermostat to 21 degrees"),
    ("A Jarvis. What time is it?", "hey_jarvis", "What time is it?"),
    ("Jervis, what time is it?", "hey_jarvis", "what time is it?"),
    ("Service, turn off the bedroom lights.", "hey_jarvis", "turn off the bedroom lights"),
    ("So, hey Jarvis, um, what is the weather like?", "hey_jarvis_v0.1", "what is the weather like?"),
    ("Okay Nabu, stop.", "ok_nabu", "stop"),
    ("Alexa, play some music.", "alexa", "play some music"),
    ("Hey Raspy, open the garage door.", "/models/hey_rhasspy_v0.1.tflite", "open the garage door"),
])
def test_a_leftover_wake_phrase_and_fillers_come_off(heard: str, wake_word: str, text: str) -> None:
    cleaned = clean(heard, wake_word)
    assert cleaned.text == text
    assert cleaned.original == heard
    assert cleaned.wake_removed


@pytest.mark.parametrize("heard", [
    "Turn on the kitchen lights.", "Start the vacuum cleaner.", "Set a timer for ten minutes.",
    "Increase the volume.", "Raise the blinds.", "Decrease the temperature.", "Close the blinds in the office.",
    "What is the capital of France?", "Resume the music.", "Travel times to work?",
])
def test_a_command_word_is_never_taken_for_the_wake_word(heard: str) -> None:
    for wake_word in ("hey_jarvis", "alexa", "ok_nabu", "hey_mycroft", "hey_rhasspy"):
        cleaned = clean(heard, wake_word)
        assert cleaned.wake_removed == "", (wake_word, cleaned)
        assert cleaned.text == heard.rstrip(".")


def test_without_a_wake_word_only_fillers_come_off() -> None:
    assert clean("Jarvis, what time is it?").text == "Jarvis, what time is it?"  # typed: the name is meant
    assert clean("Um, okay, what time is it?").text == "what time is it?"


@pytest.mark.parametrize(("heard", "command"), [
    ("Could you please turn on the lights?", "turn on the lights"),
    ("Can you set a timer for five minutes please.", "set a timer for five minutes"),
    ("Please turn off the fan, thanks.", "turn off the fan"),
    ("Jarvis, would you turn the volume up for me, thank you very much!", "turn the volume up"),
    ("I'd like you to cancel all my timers.", "cancel all my timers"),
])
def test_politeness_is_dropped_for_intent_matching_but_the_question_stays_for_the_llm(heard: str, command: str) -> None:
    cleaned = clean(heard, "hey_jarvis")
    assert cleaned.command == command
    assert "could you" in clean("Could you swim?").text.lower()  # the LLM still gets the question


def test_the_intent_matcher_understands_commands_wrapped_in_wake_words_fillers_and_politeness() -> None:
    matcher = IntentMatcher()
    for heard in ("Hey Jarvis, um, could you turn on the kitchen lights please?",
                  "Jervis. Turn on the kitchen lights, thanks.",
                  "A Jarvis, so, please turn on the kitchen lights."):
        intent = matcher.match(clean(heard, "hey_jarvis").command)
        assert intent is not None, heard
        assert "kitchen" in str(intent.slots).lower(), intent
    assert matcher.match(clean("Okay, Jarvis, can you tell me the time?", "hey_jarvis").command) is not None


@pytest.mark.parametrize(("heard", "expected"), [
    ("Jarvis.", Doubt.FRAGMENT),
    ("Hey Jarvis", Doubt.FRAGMENT),
    ("the", Doubt.FRAGMENT),
    ("Um, and the", Doubt.FRAGMENT),
    ("Please.", Doubt.FRAGMENT),
    ("Turn on the", Doubt.FRAGMENT),
    ("Jarvis, set the volume and", Doubt.FRAGMENT),
    ("Turn the lights on.", None),
    ("What are you waiting for?", None),
    ("Stop.", None),
    ("Thank you.", None),
    ("Turn on the kitchen lights.", None),
    ("Hey.", Doubt.FRAGMENT),  # what is left of "hey Jarvis", not a greeting
    ("Hello.", None),
    ("Hey Jarvis, hi there.", None),
])
def test_fragments_are_doubted_whole_requests_are_not(heard: str, expected: str | None) -> None:
    assert doubt(clean(heard, "hey_jarvis"), SURE, DoubtSettings()) == expected


def test_the_decoders_own_confidence_decides_between_acting_asking_and_staying_quiet() -> None:
    settings = DoubtSettings(min_avg_logprob=-1.0, max_no_speech_prob=0.6, no_speech_logprob=-0.5)
    words = clean("Turn on the kitchen lights.", "hey_jarvis")
    assert doubt(words, Confidence(-0.3, 0.05), settings) is None
    assert doubt(words, Confidence(-1.4, 0.05), settings) == Doubt.LOW_CONFIDENCE
    assert doubt(words, Confidence(-0.8, 0.9), settings) == Doubt.NO_SPEECH
    assert doubt(words, Confidence(-0.2, 0.9), settings) is None  # a clear transcript outweighs the no-speech guess
    assert doubt(words, None, settings) is None  # typed text has no decoder


def test_asking_again_is_short_varied_and_the_same_on_a_replay() -> None:
    said = {ask_again(f"turn-{n}") for n in range(20)}
    assert said == set(ASK_AGAIN)
    assert ask_again("turn-7") == ask_again("turn-7")
    assert all(len(s.split()) <= 6 for s in ASK_AGAIN)


def test_wake_phrase_names() -> None:
    assert wake_phrase("hey_jarvis_v0.1") == "hey jarvis"
    assert wake_phrase("ok_nabu") == "ok nabu"
    assert wake_phrase("C:\\wake\\hey_computer_v2.tflite") == "hey computer"


@pytest.mark.parametrize(("heard", "text"), [("Hello.", "Hello"), ("Hi there!", "Hi there"),
                                             ("Hey Jarvis, hello.", "hello"), ("Hello, what time is it?",
                                                                               "what time is it?")])
def test_a_greeting_on_its_own_is_the_request_and_is_kept(heard: str, text: str) -> None:
    assert clean(heard, "hey_jarvis").text == text
