"""The answers that need no language model: what a person asking hears, word for word where it matters."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hub.answers import quick_answer
from hub.answers.dates import easter
from hub.answers.maths import answer_maths
from hub.answers.units import answer_units
from hub.answers.words import normalise, parse_amount, parse_ordinal, say_number

MONDAY = datetime(2026, 11, 30, 13, 29)  # a Monday


def ask(text: str, now: datetime = MONDAY) -> tuple[str, str] | None:
    answer = quick_answer(text, now)
    return (answer.kind, answer.text) if answer else None


# -- calendar ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "expected"), [
    ("What day is Christmas?", "Christmas Day is on Friday, December 25th."),
    ("What day of the week is Christmas this year?", "Christmas Day is on Friday, December 25th."),
    ("What day of the week is the 4th of July?", "Independence Day is on Sunday, July 4th 2027."),
    ("When is Easter?", "Easter Sunday is on Sunday, March 28th 2027."),
    ("When is Thanksgiving?", "Thanksgiving is on Thursday, November 25th 2027."),
    ("What day is New Year's Eve?", "New Year's Eve is on Thursday, December 31st."),
    ("What day was January 1st 2000?", "January 1st 2000 was a Saturday."),
    ("What day of the week is March 3rd 2027?", "March 3rd 2027 is a Wednesday."),
    ("What day is the twenty-fifth of December?", "December 25th is a Friday."),
    ("What day was Halloween?", "Halloween was on Saturday, October 31st."),
])
def test_weekday_of_a_date_or_holiday(question, expected):
    assert ask(question) == ("calendar", expected)


@pytest.mark.parametrize(("question", "expected"), [
    ("How many days until Christmas?", "Christmas Day is in 25 days, on Friday, December 25th."),
    ("How many sleeps till Christmas?", "Christmas Day is in 25 sleeps, on Friday, December 25th."),
    ("How many weeks until Christmas?", "Christmas Day is 3 weeks and 4 days away, on Friday, December 25th."),
    ("How long until New Year?", "New Year's Day is in 32 days, on Friday, January 1st 2027."),
    ("How many days is it to the 1st of December?", "December 1st is tomorrow."),
    ("How many days since New Year's Day?", "It has been 333 days since New Year's Day."),
])
def test_days_until_and_since(question, expected):
    assert ask(question) == ("calendar", expected)


def test_a_date_today_is_today_and_a_passed_date_means_next_year():
    christmas_day = datetime(2026, 12, 25, 9, 0)
    assert ask("How many days until Christmas?", christmas_day) == ("calendar", "Christmas Day is today!")
    assert ask("What day is Christmas?", christmas_day)[1].startswith("Christmas Day is today")
    boxing_day = datetime(2026, 12, 26, 9, 0)
    assert ask("How many days until Christmas?", boxing_day)[1].startswith("Christmas Day is in 364 days")


@pytest.mark.parametrize(("question", "expected"), [
    ("What's tomorrow's date?", "Tomorrow is Tuesday, December 1st."),
    ("What day was it yesterday?", "Yesterday was Sunday, November 29th."),
    ("What day will it be in 10 days?", "In 10 days it will be Thursday, December 10th."),
    ("What's the date in three weeks?", "In 21 days it will be Monday, December 21st."),
    ("What date is next Friday?", "Next Friday is December 4th."),
    ("What's the date next Monday?", "Next Monday is December 7th."),
    ("What year is it?", "It's 2026."),
    ("How many days are there in February?", "February has 28 days in 2026."),
    ("How many days in February 2028?", "February has 29 days in 2028."),
    ("Is it a leap year?", "2026 is not a leap year."),
])
def test_relative_dates(question, expected):
    assert ask(question) == ("calendar", expected)


def test_easter_matches_known_dates():
    known = {2019: date(2019, 4, 21), 2024: date(2024, 3, 31), 2025: date(2025, 4, 20), 2026: date(2026, 4, 5),
             2027: date(2027, 3, 28), 2038: date(2038, 4, 25), 2000: date(2000, 4, 23)}
    assert {year: easter(year) for year in known} == known


def test_february_29th_means_the_next_leap_year():
    assert ask("What day of the week is February 29th?") == ("calendar", "February 29th 2028 is a Tuesday.")


# -- maths --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "expected"), [
    ("What is 17 times 23?", "17 times 23 is 391."),
    ("What is seventeen times twenty-three?", "17 times 23 is 391."),
    ("What's 15 percent of 80?", "15 percent of 80 is 12."),
    ("What's 15% of 80?", "15 percent of 80 is 12."),
    ("What is 144 divided by 12?", "144 divided by 12 is 12."),
    ("What's 7 plus 8?", "7 plus 8 is 15."),
    ("What is 100 minus 37?", "100 minus 37 is 63."),
    ("What's the square root of 144?", "The square root of 144 is 12."),
    ("What is twelve squared?", "12 squared is 144."),
    ("What's 2 to the power of 10?", "2 to the power of 10 is 1024."),
    ("What's 6 x 7?", "6 times 7 is 42."),
    ("What is 3.5 plus 2.25?", "3.5 plus 2.25 is 5.75."),
    ("What is 10 divided by 3?", "10 divided by 3 is 3.33."),
    ("What's 2 plus 3 times 4?", "2 plus 3 times 4 is 14."),
    ("What is 1,250 plus 750?", "1250 plus 750 is 2000."),
    ("What's 5 minus 8?", "5 minus 8 is minus 3."),
    ("Calculate 25 percent off 80.", "25 percent off 80 is 60."),
    ("What's half of 50?", "Half of 50 is 25."),
    ("What's a 20 percent tip on 45?", "A 20 percent tip on 45 is 9, making 54 in total."),
    ("Add 12 and 30.", "12 plus 30 is 42."),
])
def test_arithmetic(question, expected):
    assert ask(question) == ("maths", expected)


@pytest.mark.parametrize(("question", "expected"), [
    ("What is 100 divided by 0?", "You can't divide by zero."),
    ("What's the square root of minus 4?", "A negative number has no real square root."),
    ("What is 9 to the power of 999?", "That number is too big to say."),
])
def test_arithmetic_without_an_answer_is_explained(question, expected):
    assert ask(question) == ("maths", expected)


@pytest.mark.parametrize("question", [
    "What is the time?", "What's 5G?", "What's 9 to 5 about?", "What is the meaning of life?",
    "Times tables are hard", "What is less than a minute?", "What's the plus side of this?",
])
def test_not_arithmetic(question):
    assert answer_maths(normalise(question)) is None


# -- units --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "expected"), [
    ("Convert 30 Celsius to Fahrenheit.", "30 degrees Celsius is 86 degrees Fahrenheit."),
    ("What's 70 degrees Fahrenheit in Celsius?", "70 degrees Fahrenheit is 21.1 degrees Celsius."),
    ("What's 30 degrees in Fahrenheit?", "30 degrees Celsius is 86 degrees Fahrenheit."),
    ("What's 100 degrees in Celsius?", "100 degrees Fahrenheit is 37.8 degrees Celsius."),
    ("What is 0 kelvin in Celsius?", "0 kelvin is minus 273 degrees Celsius."),
    ("What is 5 miles in kilometres?", "5 miles is 8.05 kilometres."),
    ("How many feet in a mile?", "1 mile is 5280 feet."),
    ("How many centimetres in an inch?", "1 inch is 2.54 centimetres."),
    ("How many grams in a pound?", "1 pound is 454 grams."),
    ("How many ounces are in 2 pounds?", "2 pounds is 32 ounces."),
    ("Convert 10 stone to kilograms.", "10 stone is 63.5 kilograms."),
    ("How many cups in a gallon?", "1 gallon is 16 cups."),
    ("How many millilitres in a teaspoon?", "1 teaspoon is 4.93 millilitres."),
    ("What is 2 litres in pints?", "2 litres is 4.23 pints."),
    ("What is 100 km/h in mph?", "100 kilometres per hour is 62.1 miles per hour."),
    ("Convert 60 miles per hour to kilometres per hour.", "60 miles per hour is 96.6 kilometres per hour."),
    ("How many seconds in a day?", "1 day is 86400 seconds."),
    ("How many minutes are in 3 hours?", "3 hours is 180 minutes."),
])
def test_unit_conversions(question, expected):
    assert ask(question) == ("units", expected)


def test_units_of_different_kinds_are_refused_in_words():
    assert answer_units(normalise("convert 5 kilograms to miles")) == (
        "I can't convert kilograms to miles: they measure different things.")


# -- spelling -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "expected"), [
    ("How do you spell necessary?", "Necessary is spelled N, E, C, E, S, S, A, R, Y."),
    ("How do I spell Mississippi?", "Mississippi is spelled M, I, S, S, I, S, S, I, P, P, I."),
    ("Can you spell restaurant for me?", "Restaurant is spelled R, E, S, T, A, U, R, A, N, T."),
    ("How is rhythm spelled?", "Rhythm is spelled R, H, Y, T, H, M."),
    ("What's the spelling of separate?", "Separate is spelled S, E, P, A, R, A, T, E."),
])
def test_spelling(question, expected):
    assert ask(question) == ("spelling", expected)


# -- what an offline home cannot know -------------------------------------------------------------
@pytest.mark.parametrize(("question", "word"), [
    ("What's the latest news?", "news"),
    ("Read me the headlines.", "news"),
    ("Who won the game last night?", "scores"),
    ("What's the score in the Arsenal match?", "scores"),
    ("What's Apple's stock price?", "prices"),
    ("How much is bitcoin worth today?", "prices"),
    ("Search the web for pasta recipes.", "search the web"),
    ("How is the traffic on the way to work?", "travel"),
])
def test_what_needs_the_internet_gets_an_honest_answer(question, word):
    kind, text = ask(question)
    assert kind == "offline" and word in text and "offline" in text


def test_weather_without_a_weather_entity_says_so():
    kind, text = ask("Will it rain tomorrow?")
    assert kind == "weather" and "don't have a weather forecast" in text


@pytest.mark.parametrize("question", [
    "What is the capital of Italy?", "Who wrote Hamlet?", "Tell me a joke.", "What causes rain?",
    "How hot is the sun?", "Turn on the kitchen light.", "When was the Battle of Hastings?",
    "What's my name?", "Who won the World Cup in 2010?", "",
    "Set the heating to 20 degrees in Celsius.", "Turn the oven to 180 degrees in fahrenheit",
])
def test_everything_else_goes_to_the_model(question):
    assert ask(question) is None


# -- number words ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("17", 17), ("1,250", 1250), ("3.5", 3.5), ("seventeen", 17), ("twenty three", 23),
    ("two hundred and five", 205), ("a hundred", 100), ("three thousand four hundred", 3400),
    ("one and a half", 1.5), ("a quarter", 0.25), ("-4", -4), ("banana", None), ("", None),
])
def test_parse_amount(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize(("text", "day"), [("4th", 4), ("fourth", 4), ("twenty first", 21), ("31", 31),
                                           ("thirtieth", 30), ("twenty-second", 22), ("soon", None)])
def test_parse_ordinal(text, day):
    assert parse_ordinal(text) == day


@pytest.mark.parametrize(("value", "spoken"), [(17.0, "17"), (1 / 3, "0.33"), (-4.5, "minus 4.5"),
                                               (1234567.0, "1234567"), (0.001234, "0.0012")])
def test_say_number(value, spoken):
    assert say_number(value) == spoken
