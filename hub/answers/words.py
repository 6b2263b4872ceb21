"""Numbers as people say them and as whisper writes them, both ways.

``parse_amount`` reads "17", "1,250", "3.5", "seventeen", "two hundred and five", "a quarter",
"one and a half"; ``parse_ordinal`` reads "4th", "fourth", "twenty-first"; ``say_number`` writes a
result the way it should be spoken (no trailing zeros, no thousands separators piper would pause on).
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "oh": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_FRACTIONS = {"half": 0.5, "quarter": 0.25, "third": 1 / 3}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}

NUMBER_WORDS = sorted([*_UNITS, *_TENS, *_SCALES, *_FRACTIONS], key=len, reverse=True)
_WORD = "|".join(w for w in NUMBER_WORDS if w not in ("a", "an", "oh"))
AMOUNT = (rf"(?:-?\d[\d,]*(?:\.\d+)?|-?\.\d+|(?:(?:a|an|{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:a[\s-]+)?(?:{_WORD}))*)"
          rf"(?:\s+and\s+a\s+(?:half|quarter))?)")
"""A regex for one amount, digits or words (use with :func:`parse_amount`)."""
ORDINAL = (rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|(?:(?:twenty|thirty)[\s-]+)?(?:{'|'.join(_ORDINALS)})|"
           rf"(?:twenty|thirty)[\s-]+(?:one|two|three|four|five|six|seven|eight|nine))")
"""A regex for a day of the month: "4", "4th", "fourth", "twenty-first"."""


def normalise(text: str) -> str:
    """Lower case, no sentence punctuation, single spaces; keeps digits' "." "," ":" "%" "/" "°"."""
    text = text.lower().replace("’", "'").replace("×", " times ").replace("÷", " divided by ")
    text = re.sub(r"[^\w\s'%.,:/°+*^=-]", " ", text)
    text = re.sub(r"(?<!\d)[.,:]|[.,:](?!\d)", " ", text)  # keep "3.5", "1,250", "12:30"
    text = re.sub(r"(?<=\w)-(?=[a-z])", " ", text)  # "twenty-five" -> "twenty five"
    return re.sub(r"\s+", " ", text).strip()


def parse_amount(text: str) -> float | None:
    """One amount in digits or words; None if the text is not exactly one number."""
    text = text.strip().lower().replace("-", " ") if not re.match(r"^-\d|^-\.", text.strip()) else text.strip()
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+", text):
        return float(text.replace(",", ""))
    words = [w for w in text.split() if w]
    if not words:
        return None
    extra = 0.0
    if len(words) >= 3 and words[-3:-1] == ["and", "a"] and words[-1] in ("half", "quarter"):
        extra = _FRACTIONS[words[-1]]
        words = words[:-3]
    if words in (["a", "half"], ["half"], ["a", "quarter"], ["quarter"], ["a", "third"]):
        return _FRACTIONS[words[-1]]
    total, current, seen = 0, 0, False
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        elif word == "and" and seen:
            continue
        else:
            return None
        seen = True
    return float(total + current) + extra if seen else None


def parse_ordinal(text: str) -> int | None:
    """A day of the month: "4", "4th", "fourth", "twenty first" -> 4 / 21; None otherwise."""
    text = text.strip().lower().replace("-", " ")
    digits = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", text)
    if digits:
        return int(digits.group(1))
    words = text.split()
    if len(words) == 1:
        return _ORDINALS.get(words[0])
    if len(words) == 2 and words[0] in ("twenty", "thirty"):
        unit = _ORDINALS.get(words[1]) or _UNITS.get(words[1])
        if unit is not None and unit < 10:
            return _TENS[words[0]] + unit
    return None


def say_number(value: float, *, places: int = 2) -> str:
    """17.0 -> "17", 0.3333 -> "0.33", -4.5 -> "minus 4.5", 1234567 -> "1234567"."""
    if abs(value) >= 1e15:
        return f"{value:.3g}".replace("e+", " times 10 to the power of ")
    rounded = round(value, places)
    if rounded == 0 and value != 0:
        rounded = float(f"{value:.2g}")  # a tiny result keeps two significant digits, not "0"
    text = f"{rounded:.{places + 4}f}".rstrip("0").rstrip(".") if rounded != int(rounded) else str(int(rounded))
    return f"minus {text[1:]}" if text.startswith("-") else text


def ordinal_suffix(day: int) -> str:
    """4 -> "4th", 22 -> "22nd" (piper reads these as ordinals)."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def plural(count: float, word: str) -> str:
    return f"{say_number(count)} {word}{'' if count == 1 else 's'}"
