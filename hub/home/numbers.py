"""Spoken numbers both ways: "two minutes" <-> 2, 90 seconds -> "1 minute 30 seconds"."""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, "hundred", "half"], key=len, reverse=True))
NUMBER = rf"(?:\d+(?:\.\d+)?|(?:(?:{NUMBER_WORD})[\s-]*)+)"


def parse_number(text: str) -> float | None:
    """ "25", "twenty five", "twenty-five", "a", "one hundred" -> a number; None if it is not one."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, current, seen = 0, 0, False
    for word in re.split(r"[\s-]+", text):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "half":
            return total + current + 0.5 if seen else 0.5
        elif word in ("and", ""):
            continue
        else:
            return None
        seen = True
    return float(total + current) if seen else None
