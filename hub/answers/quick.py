"""The deterministic answers, tried in order; the first that recognises the question answers it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from hub.answers.dates import answer_calendar, answer_year_month
from hub.answers.home_context import HomeContext
from hub.answers.maths import answer_maths
from hub.answers.offline import NO_WEATHER, answer_offline, asks_weather
from hub.answers.spelling import answer_spelling
from hub.answers.units import answer_units
from hub.answers.words import normalise

_COMMAND = re.compile(r"^(?:please |can you |could you )?(?:set|turn|switch|make|put|change|raise|lower|increase|"
                      r"decrease|dim|brighten|open|close|start|stop|cancel|play|pause)\b")
"""A command the intent matcher did not take ("set the heating to 20 degrees in Celsius") is never answered
as a conversion or a sum: the model, or its "I can't", is the better reply."""


@dataclass(frozen=True)
class QuickAnswer:
    kind: str
    """calendar, units, maths, spelling, weather or offline (the turn's handler is ``quick_<kind>``)."""
    text: str


def quick_answer(text: str, now: datetime, home: HomeContext | None = None) -> QuickAnswer | None:
    """The answer to ``text`` at time ``now`` if it needs no language model, else None."""
    said = normalise(text)
    if not said or _COMMAND.match(said):
        return None
    for kind, answer in (("spelling", answer_spelling), ("units", answer_units), ("maths", answer_maths)):
        reply = answer(said)
        if reply:
            return QuickAnswer(kind, reply)
    for calendar in (answer_calendar, answer_year_month):
        reply = calendar(said, now)
        if reply:
            return QuickAnswer("calendar", reply)
    if asks_weather(said):
        weather = home.weather_answer(said) if home is not None else NO_WEATHER
        if weather:
            return QuickAnswer("weather", weather)
    reply = answer_offline(said)
    return QuickAnswer("offline", reply) if reply else None


class QuickAnswers:
    """What a turn calls: ``answers(text, room, now)``; ``home`` is set once home control is up."""

    def __init__(self, home: HomeContext | None = None) -> None:
        self.home = home

    def __call__(self, text: str, room: str, now: datetime) -> QuickAnswer | None:
        return quick_answer(text, now, self.home)

    def device_states(self, text: str, room: str) -> tuple[str, ...]:
        """Lines about the devices (and weather) the question mentions, for the language model's prompt."""
        return self.home.device_states(text, room) if self.home is not None else ()
