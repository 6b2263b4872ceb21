"""The regex matcher the hub used before hassil (hub/home/intents.py at 402ae28), kept as the baseline for bench.intents."""


from __future__ import annotations

import re
from dataclasses import dataclass, field

from hub.home.numbers import NUMBER, parse_number

_UNIT_SECONDS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600}


@dataclass(frozen=True)
class Intent:
    name: str
    """time, date, timer_start, timer_cancel, timer_list, stop, volume, mute, device."""
    slots: dict[str, object] = field(default_factory=dict)


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w\s'%.-]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep "3.5", drop sentence periods
    return re.sub(r"\s+", " ", text).strip()


_DURATION = re.compile(rf"({NUMBER})\s*(hours?|minutes?|mins?|seconds?|secs?)\b")


def parse_duration(text: str) -> int | None:
    total = 0.0
    for number, unit in _DURATION.findall(text):
        value = parse_number(number)
        if value is None:
            return None
        total += value * _UNIT_SECONDS[unit.rstrip("s") if unit not in ("mins", "secs") else unit[:-1]]
    if "and a half" in text and total:
        unit = _DURATION.findall(text)[-1][1]
        total += 0.5 * _UNIT_SECONDS[unit.rstrip("s")]
    return int(total) if total > 0 else None


_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("timer_cancel", re.compile(r"\b(cancel|stop|delete|remove)\b.*\btimers?\b")),
    ("timer_list", re.compile(r"\b(what|which|any|how much time|how long)\b.*\b(timers?|left)\b")),
    ("timer_start", re.compile(r"\b(timer|remind me in|countdown)\b")),
    ("time", re.compile(r"\bwhat('s| is)? the time\b|\bwhat time is it\b|\btell me the time\b|\bcurrent time\b")),
    ("date", re.compile(r"\bwhat('s| is)? (the |today's )?date\b|\bwhat day is (it|today)\b|\btoday's date\b")),
    ("mute", re.compile(r"^(please )?(mute|unmute)( yourself| the microphone)?$")),
    ("volume", re.compile(r"\b(volume|louder|quieter|softer)\b")),
    ("stop", re.compile(r"^(please )?(stop|never mind|nevermind|cancel|quiet|be quiet|shut up|that's enough)( please)?$")),
    ("device", re.compile(r"^(please )?(turn|switch) (on|off) |^(please )?(turn|switch) .+ (on|off)$|^set the .+ to ")),
]


class IntentMatcher:
    def match(self, text: str) -> Intent | None:
        said = normalise(text)
        if not said:
            return None
        for name, pattern in _RULES:
            if pattern.search(said):
                intent = getattr(self, f"_{name}")(said)
                if intent is not None:
                    return intent
        return None

    @staticmethod
    def _timer_start(said: str) -> Intent | None:
        seconds = parse_duration(said)
        if seconds is None:
            return None
        name = re.search(r"\b(?:called|named|for the|for my) ([a-z ]+?)(?: timer)?$", said)
        return Intent("timer_start", {"seconds": seconds, "name": name.group(1) if name else None})

    @staticmethod
    def _timer_cancel(said: str) -> Intent:
        return Intent("timer_cancel", {"all": "all" in said})

    @staticmethod
    def _timer_list(said: str) -> Intent:
        return Intent("timer_list")

    @staticmethod
    def _time(said: str) -> Intent:
        return Intent("time")

    @staticmethod
    def _date(said: str) -> Intent:
        return Intent("date")

    @staticmethod
    def _mute(said: str) -> Intent:
        return Intent("mute", {"muted": "unmute" not in said})

    @staticmethod
    def _stop(said: str) -> Intent:
        return Intent("stop")

    @staticmethod
    def _volume(said: str) -> Intent | None:
        level = re.search(rf"\b(?:to|at) ({NUMBER})\s*(?:%|percent)?", said)
        if level:
            value = parse_number(level.group(1))
            if value is not None:
                return Intent("volume", {"level": int(max(0, min(100, value)))})
        if re.search(r"\b(up|louder|increase|raise)\b", said):
            return Intent("volume", {"step": 10})
        if re.search(r"\b(down|quieter|softer|decrease|lower)\b", said):
            return Intent("volume", {"step": -10})
        return None

    @staticmethod
    def _device(said: str) -> Intent | None:
        said = re.sub(r"^please ", "", said)
        match = re.match(r"^(?:turn|switch) (on|off) (?:the )?(.+)$", said) or re.match(
            r"^(?:turn|switch) (?:the )?(.+) (on|off)$", said)
        if match:
            first, second = match.groups()
            state, target = (first, second) if first in ("on", "off") else (second, first)
            return Intent("device", {"action": f"turn_{state}", "target": target.strip()})
        level = re.match(rf"^set (?:the )?(.+?) to ({NUMBER})\s*(?:%|percent)?$", said)
        if level:
            value = parse_number(level.group(2))
            if value is not None:
                return Intent("device", {"action": "set", "target": level.group(1), "value": value})
        return None
