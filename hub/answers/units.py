"""Unit conversions: temperature, length, weight, volume, speed and time spans.

"how many grams in a pound", "convert 30 celsius to fahrenheit", "what is 5 miles in kilometres",
"100 kilometres per hour in miles per hour". Cups, pints, quarts, gallons and fluid ounces are US
measures unless the question says imperial or UK. Results keep three significant digits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hub.answers.words import AMOUNT, parse_amount, say_number


@dataclass(frozen=True)
class Unit:
    singular: str
    plural: str
    dimension: str
    factor: float
    """Size in the dimension's base unit (metre, gram, millilitre, metre per second, second); 0 for temperature."""


_UNITS: dict[str, Unit] = {}
_ALIASES: dict[str, str] = {}


def _add(key: str, singular: str, plural: str, dimension: str, factor: float, *aliases: str) -> None:
    _UNITS[key] = Unit(singular, plural, dimension, factor)
    for alias in (singular, plural, *aliases):
        _ALIASES[alias] = key


for _args in (
    ("mm", "millimetre", "millimetres", "length", 0.001, "millimeter", "millimeters", "mm"),
    ("cm", "centimetre", "centimetres", "length", 0.01, "centimeter", "centimeters", "cm"),
    ("m", "metre", "metres", "length", 1.0, "meter", "meters"),
    ("km", "kilometre", "kilometres", "length", 1000.0, "kilometer", "kilometers", "km", "k"),
    ("in", "inch", "inches", "length", 0.0254),
    ("ft", "foot", "feet", "length", 0.3048, "ft"),
    ("yd", "yard", "yards", "length", 0.9144),
    ("mi", "mile", "miles", "length", 1609.344),
    ("mg", "milligram", "milligrams", "weight", 0.001, "mg"),
    ("g", "gram", "grams", "weight", 1.0, "grammes"),
    ("kg", "kilogram", "kilograms", "weight", 1000.0, "kilo", "kilos", "kg", "kgs"),
    ("t", "tonne", "tonnes", "weight", 1e6, "metric ton", "metric tons"),
    ("oz", "ounce", "ounces", "weight", 28.349523125, "oz"),
    ("lb", "pound", "pounds", "weight", 453.59237, "lb", "lbs"),
    ("st", "stone", "stone", "weight", 6350.29318, "stones"),
    ("ml", "millilitre", "millilitres", "volume", 1.0, "milliliter", "milliliters", "ml", "mls"),
    ("cl", "centilitre", "centilitres", "volume", 10.0, "centiliter", "centiliters"),
    ("l", "litre", "litres", "volume", 1000.0, "liter", "liters"),
    ("tsp", "teaspoon", "teaspoons", "volume", 4.92892159375, "tsp"),
    ("tbsp", "tablespoon", "tablespoons", "volume", 14.78676478125, "tbsp"),
    ("floz", "fluid ounce", "fluid ounces", "volume", 29.5735295625, "fl oz"),
    ("cup", "cup", "cups", "volume", 236.5882365),
    ("pt", "pint", "pints", "volume", 473.176473),
    ("qt", "quart", "quarts", "volume", 946.352946),
    ("gal", "gallon", "gallons", "volume", 3785.411784),
    ("ukpt", "imperial pint", "imperial pints", "volume", 568.26125, "uk pint", "uk pints"),
    ("ukgal", "imperial gallon", "imperial gallons", "volume", 4546.09, "uk gallon", "uk gallons"),
    ("kmh", "kilometre per hour", "kilometres per hour", "speed", 1 / 3.6, "kilometer per hour",
     "kilometers per hour", "km/h", "kph", "kmh", "k per hour"),
    ("mph", "mile per hour", "miles per hour", "speed", 0.44704, "mph"),
    ("ms", "metre per second", "metres per second", "speed", 1.0, "meter per second", "meters per second", "m/s"),
    ("kn", "knot", "knots", "speed", 0.514444),
    ("s", "second", "seconds", "time", 1.0, "sec", "secs"),
    ("min", "minute", "minutes", "time", 60.0, "min", "mins"),
    ("h", "hour", "hours", "time", 3600.0, "hr", "hrs"),
    ("d", "day", "days", "time", 86400.0),
    ("wk", "week", "weeks", "time", 604800.0),
    ("yr", "year", "years", "time", 31536000.0),
    ("C", "degree Celsius", "degrees Celsius", "temperature", 0.0, "celsius", "centigrade", "degrees celsius",
     "degree celsius", "degrees centigrade", "°c", "c"),
    ("F", "degree Fahrenheit", "degrees Fahrenheit", "temperature", 0.0, "fahrenheit", "degrees fahrenheit",
     "degree fahrenheit", "°f", "f"),
    ("K", "kelvin", "kelvin", "temperature", 0.0, "kelvins", "degrees kelvin"),
):
    _add(*_args)  # type: ignore[arg-type]

_ALIASES.update({"degree": "C", "degrees": "C"})  # a bare "degrees" is resolved against the other unit
_UNIT_WORDS = "|".join(re.escape(a.lower()) for a in sorted(_ALIASES, key=len, reverse=True))
_UNIT = rf"(?:degrees? )?(?:{_UNIT_WORDS})"
_AMOUNT_UNIT = rf"({AMOUNT}|a|an|one) ?({_UNIT})"
_PATTERNS = (
    # "how many grams (are there) in a pound", "how many feet is 3 metres"
    re.compile(rf"\bhow (?:many|much) ({_UNIT}) (?:are |is )?(?:there )?(?:in|is|make|equals?|to) (?:a |an |one )?"
               rf"(?:({AMOUNT}) ?)?({_UNIT})\b"),
    # "convert 30 celsius to fahrenheit", "what is 5 miles in km", "100 mph in kilometres per hour"
    re.compile(rf"\b{_AMOUNT_UNIT} (?:in|into|to|as) ({_UNIT})\b"),
)


def _unit(word: str) -> Unit | None:
    word = word.lower().strip()
    key = _ALIASES.get(word) or _ALIASES.get(re.sub(r"^degrees? ", "", word))
    if key is None and word.startswith("degree"):
        key = "C"  # "degrees" alone is ambiguous; only used as a source with a named target
    return _UNITS.get(key) if key else None


def _to_kelvin(value: float, unit: Unit) -> float:
    return {"degree Celsius": value + 273.15, "degree Fahrenheit": (value - 32) * 5 / 9 + 273.15}.get(
        unit.singular, value)


def _from_kelvin(value: float, unit: Unit) -> float:
    return {"degree Celsius": value - 273.15, "degree Fahrenheit": (value - 273.15) * 9 / 5 + 32}.get(
        unit.singular, value)


def convert(value: float, source: Unit, target: Unit) -> float:
    if source.dimension != target.dimension:
        raise ValueError(f"cannot convert {source.plural} to {target.plural}")
    if source.dimension == "temperature":
        return _from_kelvin(_to_kelvin(value, source), target)
    return value * source.factor / target.factor


def significant(value: float, digits: int = 3) -> float:
    """Three significant digits, but whole numbers stay exact (86400 seconds in a day)."""
    if value == 0 or abs(value - round(value)) < 1e-9:
        return float(round(value))
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return round(value, places)


def _name(unit: Unit, value: float) -> str:
    return unit.singular if abs(value) == 1 else unit.plural


def answer_units(said: str) -> str | None:
    for index, pattern in enumerate(_PATTERNS):
        found = pattern.search(said)
        if not found:
            continue
        if index == 0:
            target_word, amount_text, source_word = found.group(1), found.group(2), found.group(3)
        else:
            amount_text, source_word, target_word = found.group(1), found.group(2), found.group(3)
        amount = parse_amount(amount_text) if amount_text and amount_text not in ("a", "an", "one") else 1.0
        source, target = _unit(source_word), _unit(target_word)
        if source is not None and target is not None and source_word.strip() in ("degree", "degrees"):
            # "30 degrees in Fahrenheit": the unnamed scale is the other common one
            source = _UNITS["F"] if target is _UNITS["C"] else _UNITS["C"]
        if amount is None or source is None or target is None or source == target:
            continue
        try:
            result = significant(convert(amount, source, target))
        except ValueError:
            return f"I can't convert {source.plural} to {target.plural}: they measure different things."
        return f"{say_number(amount)} {_name(source, amount)} is {say_number(result)} {_name(target, result)}."
    return None
