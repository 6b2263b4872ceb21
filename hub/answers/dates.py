"""Calendar questions answered from the clock: what weekday a date or holiday falls on, days until
or since it, tomorrow's and next Friday's date, the date in three weeks.

Every function takes the transcript (normalised, see :func:`hub.answers.words.normalise`) and the
current time, and returns the sentence to say or ``None`` when the question is not one of these.
A date without a year means its next occurrence (today included), or its last one when the
question is in the past tense ("what day was Christmas").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial

from hub.answers.words import AMOUNT, ORDINAL, ordinal_suffix, parse_amount, parse_ordinal, plural

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_MONTH_ALIASES = {**{m: i + 1 for i, m in enumerate(MONTHS)}, "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6,
                  "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH = "|".join(sorted(_MONTH_ALIASES, key=len, reverse=True))


def easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 = last) given weekday of a month."""
    if n < 0:
        last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


HOLIDAYS: dict[str, tuple[str, Callable[[int], date]]] = {
    r"christmas eve": ("Christmas Eve", lambda y: date(y, 12, 24)),
    r"christmas(?: day)?|xmas": ("Christmas Day", lambda y: date(y, 12, 25)),
    r"boxing day": ("Boxing Day", lambda y: date(y, 12, 26)),
    r"new year'?s eve": ("New Year's Eve", lambda y: date(y, 12, 31)),
    r"new year'?s(?: day)?|the new year|new year": ("New Year's Day", lambda y: date(y, 1, 1)),
    r"valentine'?s(?: day)?": ("Valentine's Day", lambda y: date(y, 2, 14)),
    r"st patrick'?s(?: day)?|saint patrick'?s(?: day)?": ("Saint Patrick's Day", lambda y: date(y, 3, 17)),
    r"april fools'?(?: day)?": ("April Fools' Day", lambda y: date(y, 4, 1)),
    r"good friday": ("Good Friday", lambda y: easter(y) - timedelta(days=2)),
    r"easter monday": ("Easter Monday", lambda y: easter(y) + timedelta(days=1)),
    r"easter(?: sunday)?": ("Easter Sunday", easter),
    r"independence day|(?:the )?(?:4th|fourth) of july": ("Independence Day", lambda y: date(y, 7, 4)),
    r"halloween": ("Halloween", lambda y: date(y, 10, 31)),
    r"bonfire night|guy fawkes(?: night| day)?": ("Bonfire Night", lambda y: date(y, 11, 5)),
    r"(?:us )?thanksgiving": ("Thanksgiving", lambda y: _nth_weekday(y, 11, 3, 4)),
    r"(?:us )?mother'?s day": ("Mother's Day in the US", lambda y: _nth_weekday(y, 5, 6, 2)),
    r"father'?s day": ("Father's Day", lambda y: _nth_weekday(y, 6, 6, 3)),
    r"memorial day": ("Memorial Day", lambda y: _nth_weekday(y, 5, 0, -1)),
    r"labou?r day": ("Labor Day in the US", lambda y: _nth_weekday(y, 9, 0, 1)),
}
_HOLIDAY = re.compile(rf"\b(?:the )?({'|'.join(HOLIDAYS)})\b(?: (?:this|next) year| (\d{{4}}))?")
_DATE_DAY_MONTH = re.compile(rf"\b(?:the )?({ORDINAL}) (?:of )?({_MONTH})\b(?: (\d{{4}}))?")
_DATE_MONTH_DAY = re.compile(rf"\b({_MONTH}) (?:the )?({ORDINAL})\b(?: (\d{{4}}))?")


def say_date(day: date, today: date, *, weekday: bool = True) -> str:
    """ "Friday, December 25th" (with the year when it is not this year's)."""
    text = f"{MONTHS[day.month - 1].title()} {ordinal_suffix(day.day)}"
    if day.year != today.year:
        text += f" {day.year}"
    return f"{WEEKDAYS[day.weekday()].title()}, {text}" if weekday else text


def _resolve(said: str, today: date, past: bool) -> tuple[str, date] | None:
    """(name, date) of the one date or holiday the question names."""
    found = _HOLIDAY.search(said)
    if found:
        for pattern, (name, when) in HOLIDAYS.items():
            if re.fullmatch(pattern, found.group(1)):
                if found.group(2):
                    return name, when(int(found.group(2)))
                return name, _nearest(when, today, past, "next year" in found.group(0))
    for date_pattern, day_group, month_group in ((_DATE_DAY_MONTH, 1, 2), (_DATE_MONTH_DAY, 2, 1)):
        found = date_pattern.search(said)
        if not found:
            continue
        day, month = parse_ordinal(found.group(day_group)), _MONTH_ALIASES[found.group(month_group)]
        if day is None:
            continue
        try:
            if found.group(3):
                chosen = date(int(found.group(3)), month, day)
            else:
                date(2024, month, day)  # a leap year: is this day ever valid?
                chosen = _nearest(partial(_valid, month=month, day=day), today, past, False)
        except ValueError:
            return None
        return say_date(chosen, today, weekday=False), chosen
    return None


def _valid(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:  # February 29th: the next leap year
            year += 1


def _nearest(when: Callable[[int], date], today: date, past: bool, next_year: bool) -> date:
    if next_year:
        return when(today.year + 1)
    this_year = when(today.year)
    if past:
        return this_year if this_year <= today else when(today.year - 1)
    return this_year if this_year >= today else when(today.year + 1)


_WHICH_DAY = re.compile(r"\b(?:what|which) (?:day(?: of the week)?|weekday|date)\b|\bwhen(?:'s| is| was| will)\b")
_UNTIL = re.compile(r"\bhow (?:many|much) (days?|weeks?|sleeps?|months?)\b.*\b(?:until|till|til|to|before|left)\b|"
                    r"\bhow long (?:is it )?(?:until|till|til|to|before)\b|\bdays? (?:until|till|to|left)\b")
_SINCE = re.compile(r"\bhow (?:many (days?|weeks?)|long)\b.*\b(?:since|ago)\b")


def answer_calendar(said: str, now: datetime) -> str | None:
    today = now.date()
    relative = _relative(said, today)
    if relative is not None:
        return relative
    past = bool(re.search(r"\b(?:was|did)\b", said))
    if _UNTIL.search(said) or _SINCE.search(said):
        since = _SINCE.search(said) is not None
        resolved = _resolve(said, today, past=since)
        if resolved is None:
            return None
        name, day = resolved
        return _distance(name, day, today, since, said)
    if _WHICH_DAY.search(said):
        resolved = _resolve(said, today, past)
        if resolved is None:
            return None
        name, day = resolved
        if day == today:
            return f"{name} is today, {say_date(day, today)}."
        verb = "was" if day < today else "is"
        where = say_date(day, today)
        if name.startswith(MONTHS[day.month - 1].title()):  # a plain date: name its weekday
            return f"{name} {verb} a {WEEKDAYS[day.weekday()].title()}."
        return f"{name} {verb} on {where}."
    return None


def _distance(name: str, day: date, today: date, since: bool, said: str) -> str:
    days = (today - day).days if since else (day - today).days
    if since:
        if days <= 0:
            return f"{name} has not happened yet; it is {plural(-days, 'day')} away."
        return f"It has been {plural(days, 'day')} since {name}."
    if days == 0:
        return f"{name} is today!"
    if days == 1:
        return f"{name} is tomorrow."
    if re.search(r"\bweeks?\b", said):
        weeks, rest = divmod(days, 7)
        extra = f" and {plural(rest, 'day')}" if rest else ""
        return f"{name} is {plural(weeks, 'week')}{extra} away, on {say_date(day, today)}."
    unit = "sleep" if "sleep" in said else "day"
    return f"{name} is in {plural(days, unit)}, on {say_date(day, today)}."


_IN_SPAN = re.compile(rf"\b(?:in|a) ({AMOUNT}) (days?|weeks?)(?: from (?:now|today))?\b|\b(a) (week|fortnight) from (?:now|today)\b")
_NEXT_WEEKDAY = re.compile(rf"\b(next|this|on|coming) ({'|'.join(WEEKDAYS)})\b")


def _relative(said: str, today: date) -> str | None:
    asks_date = re.search(r"\b(?:what|which)(?:'s| is| was| will)? (?:be )?(?:the )?(?:day|date|weekday)\b|"
                          r"\bwhat(?:'s| is| was) (?:tomorrow|yesterday)|\b(?:tomorrow|yesterday)'s date\b", said)
    if not asks_date:
        return None
    if re.search(r"\bday after tomorrow\b", said):
        return f"The day after tomorrow is {say_date(today + timedelta(days=2), today)}."
    if re.search(r"\bday before yesterday\b", said):
        return f"The day before yesterday was {say_date(today - timedelta(days=2), today)}."
    if re.search(r"\btomorrow\b", said):
        return f"Tomorrow is {say_date(today + timedelta(days=1), today)}."
    if re.search(r"\byesterday\b", said):
        return f"Yesterday was {say_date(today - timedelta(days=1), today)}."
    span = _IN_SPAN.search(said)
    if span:
        if span.group(4):
            days = 14 if span.group(4) == "fortnight" else 7
        else:
            amount = parse_amount(span.group(1))
            if amount is None or amount != int(amount) or amount > 100_000:
                return None
            days = int(amount) * (7 if span.group(2).startswith("week") else 1)
        return f"In {plural(days, 'day')} it will be {say_date(today + timedelta(days=days), today)}."
    named = _NEXT_WEEKDAY.search(said)
    if named and not _resolve(said, today, False):
        target = WEEKDAYS.index(named.group(2))
        ahead = (target - today.weekday()) % 7
        if named.group(1) == "next" and ahead == 0:
            ahead = 7
        label = f"{named.group(1).title()} {named.group(2).title()}" if named.group(1) in ("next", "this") \
            else named.group(2).title()
        return f"{label} is {say_date(today + timedelta(days=ahead), today, weekday=False)}."
    return None


def answer_year_month(said: str, now: datetime) -> str | None:
    if re.fullmatch(r"(?:what|which) day (?:of the week )?is (?:it|this)(?: today)?|what(?:'s| is) (?:the date|"
                    r"today's date|the date today)", said):
        return f"Today is {WEEKDAYS[now.weekday()].title()}, {say_date(now.date(), now.date(), weekday=False)}."
    if re.fullmatch(r"(?:what|which) year is (?:it|this)(?: now)?", said):
        return f"It's {now.year}."
    if re.fullmatch(r"(?:what|which) month is (?:it|this)(?: now)?", said):
        return f"It's {now.strftime('%B')}."
    if re.search(r"\bis (?:it|this) a leap year\b", said):
        leap = now.year % 4 == 0 and (now.year % 100 != 0 or now.year % 400 == 0)
        return f"{now.year} is {'' if leap else 'not '}a leap year."
    if re.search(r"\bwhat week (?:number )?is (?:it|this)\b|\bwhich week of the year\b", said):
        return f"It's week {now.isocalendar().week} of {now.isocalendar().year}."
    month = re.search(rf"\bhow many days (?:are )?(?:there )?in ({_MONTH})\b(?: (\d{{4}}))?", said)
    if month:
        number = _MONTH_ALIASES[month.group(1)]
        year = int(month.group(2)) if month.group(2) else now.year
        days = ((date(year + (number == 12), number % 12 + 1, 1)) - date(year, number, 1)).days
        suffix = f" in {year}" if number == 2 else ""
        return f"{MONTHS[number - 1].title()} has {days} days{suffix}."
    return None
