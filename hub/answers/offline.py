"""What the home cannot know without the internet: said so honestly, never made up.

A small model asked for tonight's score or today's headlines invents one. These questions are
recognised before the model runs and get a short, true answer; the prompt tells bigger models the
same rule for the cases these patterns miss.
"""

from __future__ import annotations

import re

OFFLINE_RULE = ("You have no internet access: for news, live sport, prices, traffic or anything else that needs "
                "a web search, say you can't check that offline. Never make up facts about the home or the world. "
                "You cannot switch, set or change devices yourself (the home-control commands do that before you "
                "are asked): never say you did.")
"""The same rule, as an instruction for models that follow instructions."""

_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("the news", re.compile(r"\b(?:news|headlines?|current events|what(?:'s| is) happening in the world|"
                            r"latest on)\b")),
    ("live scores", re.compile(r"\b(?:score|scores|scored|league table|standings|fixtures?)\b.*"
                               r"\b(?:game|match|tonight|today|yesterday|last night|latest|now|currently|this season)\b|"
                               r"\bwho(?:'s| is) winning\b|\bwhat(?:'s| is| was) the score\b|"
                               r"\bwho won\b.*\b(?:last night|yesterday|today|tonight|this weekend|at the weekend|"
                               r"the game|the match|the race|this season|this year)\b|\bdid (?:the )?[a-z ]+ win\b")),
    ("live prices", re.compile(r"\b(?:stock|stocks|share price|shares|stock market|dow jones|nasdaq|ftse|s&p|"
                               r"bitcoin|crypto\w*|exchange rate|price of (?:gold|oil|petrol|gas|silver))\b|"
                               r"\bhow much is (?:a |one )?(?:dollar|euro|pound|bitcoin) (?:worth|in)\b|"
                               r"\b(?:dollars?|euros?|yen|pounds? sterling) (?:in|to) (?:dollars?|euros?|pounds?|yen)\b")),
    ("the web", re.compile(r"\b(?:search (?:the )?(?:web|internet|online)|google|look (?:it |that |this )?up online|"
                           r"on the internet|website|browse)\b")),
    ("traffic and travel", re.compile(r"\b(?:traffic|flight status|is my (?:flight|train|bus) (?:on time|delayed|late)|"
                                      r"train times|next (?:bus|train))\b")),
    ("what's on", re.compile(r"\bwhat(?:'s| is) on (?:tv|television|at the cinema)\b|\bopening (?:hours|times)\b|"
                             r"\bwhat time does (?:the )?[a-z' ]+ (?:open|close)\b|\blottery (?:numbers|results)\b|"
                             r"\belection results?\b")),
)


def offline_topic(said: str) -> str | None:
    """The kind of live information the question needs, or None if it needs none of it."""
    for topic, pattern in _TOPICS:
        if pattern.search(said):
            return topic
    return None


def answer_offline(said: str) -> str | None:
    topic = offline_topic(said)
    if topic is None:
        return None
    what = {"the web": "search the web", "the news": "get the news", "traffic and travel": "check live travel news",
            "what's on": "check listings or opening times"}.get(topic, f"check {topic}")
    return f"Sorry, I can't {what}: I work offline, without the internet."


_WEATHER = re.compile(
    r"\bweather\b|\bforecast\b|\bumbrella\b|\bneed a (?:coat|jacket)\b|\btemperature outside\b|"
    r"\b(?:will|is|does|did|was) it (?:be |going to (?:be )?)?(?:rain|snow|sunny|windy|cold|hot|warm|freezing|wet|dry)|"
    r"\bhow (?:cold|hot|warm) (?:is it|will it be)\b(?! in(?:side)?\b)|"
    r"\b(?:rain|snow)(?:ing)? (?:today|tomorrow|tonight|later|this (?:morning|afternoon|evening|week|weekend))\b"
)


def asks_weather(said: str) -> bool:
    return bool(_WEATHER.search(said))


NO_WEATHER = ("I don't have a weather forecast: I work offline. Add a weather entity in Home Assistant "
              "and I can tell you.")
