"""Text made fit to be heard: no markdown, times, units and symbols written as they are said.

:func:`speakable` runs on each sentence the language model writes, just before piper reads it.
Models trained for chat screens write ``**bold**``, bullet lists, headings, code, emoji, "12:29",
"5 °C" and "80%"; piper would read the symbols, skip them, or say "twelve colon twenty nine".
"""

from __future__ import annotations

import re

_MARKDOWN: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```[\w+-]*"), " "),                          # code fences
    (re.compile(r"`([^`]*)`"), r"\1"),                         # inline code
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),           # links and images: keep the words
    (re.compile(r"https?://\S+"), "a web link"),
    (re.compile(r"(?m)^\s{0,3}#{1,6}\s*"), ""),                # headings
    (re.compile(r"(?m)^\s*>\s?"), ""),                         # quotes
    (re.compile(r"(?m)^\s*(?:[-*•+–]|\d{1,2}[.)])\s+"), ""),   # bullets and numbered lists
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),                  # bold
    (re.compile(r"(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])"), r"\1"),  # italics
    (re.compile(r"(?<!\w)_(?!\s)([^_]+?)(?<!\s)_(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"(?m)^\s*[-=*_]{3,}\s*$"), ""),               # horizontal rules
    (re.compile(r"\s*\|\s*"), ", "),                           # table cells
    (re.compile(r"[*#_~`]+"), " "),                            # whatever markup is left
)
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D\u2B50\u2B55\u231A-\u23FF]+")

_UNITS: tuple[tuple[str, str], ...] = (
    (r"°\s?C|º\s?C|degrees? C(?![a-z])", "degrees Celsius"),
    (r"°\s?F|º\s?F|degrees? F(?![a-z])", "degrees Fahrenheit"),
    (r"km/h|kph|kmh", "kilometres per hour"),
    (r"mph", "miles per hour"),
    (r"m/s", "metres per second"),
    (r"kWh", "kilowatt hours"),
    (r"kW", "kilowatts"),
    (r"W", "watts"),
    (r"km", "kilometres"),
    (r"cm", "centimetres"),
    (r"mm", "millimetres"),
    (r"m", "metres"),
    (r"kg", "kilograms"),
    (r"mg", "milligrams"),
    (r"g", "grams"),
    (r"lbs?", "pounds"),
    (r"oz", "ounces"),
    (r"ml", "millilitres"),
    (r"l|L", "litres"),
    (r"ft", "feet"),
    (r"hrs?", "hours"),
    (r"mins?", "minutes"),
    (r"secs?", "seconds"),
)
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)\s?(" + "|".join(f"(?:{u})" for u, _ in _UNITS) + r")(?![\w/])")
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros", "¥": "yen"}
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?:\s*([AaPp]\.?\s?[Mm]\b\.?))?(?![\d:])")
_ABBREVIATIONS = ((r"\be\.g\.", "for example"), (r"\bi\.e\.", "that is"), (r"\betc\.", "and so on"),
                  (r"\bvs\.?(?=\s)", "versus"), (r"\bapprox\.", "about"))


def _unit_word(match: re.Match[str]) -> str:
    number, unit = match.group(1), match.group(2)
    for pattern, word in _UNITS:
        if re.fullmatch(pattern, unit):
            if number in ("1", "1.0") and word.endswith("s") and not word.startswith("degrees"):
                word = {"feet": "foot", "kilometres per hour": "kilometre per hour",
                        "miles per hour": "mile per hour", "metres per second": "metre per second"}.get(word, word[:-1])
            if number == "1" and word.startswith("degrees"):
                word = "degree" + word[7:]
            return f"{number} {word}"
    return match.group(0)


def _time(match: re.Match[str]) -> str:
    hour, minute, meridiem = int(match.group(1)), int(match.group(2)), match.group(3)
    suffix = ""
    if meridiem:
        suffix = " AM" if meridiem.lower().startswith("a") else " PM"
    elif hour > 12 or hour == 0:
        # 24-hour clock: said the way people read it on a clock here
        suffix = " PM" if hour >= 12 else " AM"
        hour = hour - 12 if hour > 12 else (12 if hour == 0 else hour)
    if meridiem and meridiem.endswith(".") and match.end() == len(match.string):
        suffix += "."  # "a.m." ended the sentence too
    if minute == 0:
        return f"{hour} o'clock{suffix}" if not suffix else f"{hour}{suffix}"
    if minute < 10:
        return f"{hour} oh {minute}{suffix}"
    return f"{hour} {minute}{suffix}"


def strip_markdown(text: str) -> str:
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    return _EMOJI.sub("", text)


def speakable(text: str) -> str:
    """One sentence (or a whole answer) as piper should read it; an empty result means nothing to say."""
    text = strip_markdown(text)
    for pattern, replacement in _ABBREVIATIONS:
        text = re.sub(pattern, replacement, text, flags=re.I)
    text = _TIME.sub(_time, text)
    text = _UNIT_AFTER_NUMBER.sub(_unit_word, text)
    text = re.sub(r"(?<=\d)\s?°(?!\w)", " degrees", text)
    text = re.sub(r"(\d+(?:[.,]\d+)?)\s?%", r"\1 percent", text)
    for symbol, word in _CURRENCY.items():
        text = re.sub(rf"{re.escape(symbol)}\s?(\d+(?:[.,]\d+)?)", rf"\1 {word}", text)
    # Ranges ("5-10 minutes") but not dates or phone numbers; then negative numbers.
    text = re.sub(r"(?<![\d-])(\d{1,3})\s?[-–]\s?(\d{1,3})(?![\d-])", r"\1 to \2", text)
    text = re.sub(r"(?<![\w-])-(?=\d)", "minus ", text)
    text = text.replace("&", " and ").replace("+", " plus ").replace("=", " equals ").replace("@", " at ")
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,;:])\1+", r"\1", text)
    text = re.sub(r"^[\s,;:.]+", "", text)
    return re.sub(r"\s+", " ", text).strip()
