"""Spoken arithmetic: "what is 17 times 23", "what's 15 percent of 80", "square root of 144".

The question is rewritten into a token list (numbers and operators; anything else means it is not
arithmetic) and evaluated by a small precedence parser, never by ``eval``. Results are bounded:
huge powers, division by zero and roots of negatives get a spoken explanation instead.
"""

from __future__ import annotations

import math
import re

from hub.answers.words import AMOUNT, parse_amount, say_number

_PREFIX = re.compile(
    r"^(?:(?:hey |ok |okay )?(?:hearth |jarvis )?)?(?:please )?(?:can you |could you )?(?:tell me |work out |calculate |"
    r"compute |figure out )?(?:what(?:'s| is| are| does)?|how much (?:is|are)|what do you get (?:if you|when you)?)?\s*"
)
_SUFFIX = re.compile(r"\s*(?:equals?|equal to|make|come to|is|please)?\s*$")
_OPERATORS: list[tuple[str, str]] = [
    (r"\b(?:multiplied by|times|x)\b|\*(?!\*)", "*"),
    (r"\b(?:divided by|divide by|over)\b|/", "/"),
    (r"\b(?:plus|added to)\b|\+", "+"),
    (r"\b(?:minus|take away|subtract(?:ed)?|less)\b|-", "-"),
    (r"\b(?:to the power of|to the power|raised to(?: the power of)?)\b|\^|\*\*", "^"),
    (r"\b(?:percent of|per cent of)\b|% of", "%of"),
    (r"\b(?:percent off|per cent off)\b|% off", "%off"),
    (r"\bsquared\b", "sq"),
    (r"\bcubed\b", "cube"),
    (r"\b(?:the square root of|square root of|root of)\b", "sqrt"),
    (r"\(", "("),
    (r"\)", ")"),
]
_SPLIT = re.compile(r"\s*(" + "|".join(f"(?:{p})" for p, _ in _OPERATORS) + r")\s*")
_SPOKEN = {"*": "times", "/": "divided by", "+": "plus", "-": "minus", "^": "to the power of",
           "%of": "percent of", "%off": "percent off", "sq": "squared", "cube": "cubed", "sqrt": "the square root of"}


class MathsError(ValueError):
    """Arithmetic that has no answer to speak (division by zero, too big); the message is spoken."""


def _symbol(op: str) -> str:
    for pattern, symbol in _OPERATORS:
        if re.fullmatch(pattern, op):
            return symbol
    raise ValueError(op)


def tokenize(expression: str) -> list[str | float] | None:
    """Numbers and operator symbols, or None if anything else is left over."""
    tokens: list[str | float] = []
    for index, part in enumerate(_SPLIT.split(expression)):
        part = part.strip()
        if not part:
            continue
        if index % 2:
            tokens.append(_symbol(part))
            continue
        value = parse_amount(part)
        if value is None:
            return None
        tokens.append(value)
    return tokens


def evaluate(tokens: list[str | float]) -> float:
    """Precedence parser: + - < * / %of %off < ^ < unary (sqrt, -) < postfix (squared, cubed)."""
    position = 0

    def peek() -> str | float | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str | float:
        nonlocal position
        if position >= len(tokens):
            raise ValueError("unexpected end")
        position += 1
        return tokens[position - 1]

    def atom() -> float:
        token = take()
        if token == "(":
            value = additive()
            if take() != ")":
                raise ValueError("unbalanced")
            return value
        if token == "sqrt":
            value = unary()
            if value < 0:
                raise MathsError("A negative number has no real square root.")
            return math.sqrt(value)
        if token == "-":
            return -unary()
        if isinstance(token, float):
            return token
        raise ValueError(f"unexpected {token}")

    def postfix() -> float:
        value = atom()
        while peek() in ("sq", "cube"):
            value = value ** (2 if take() == "sq" else 3)
        return value

    def unary() -> float:
        return postfix()

    def power() -> float:
        base = unary()
        if peek() == "^":
            take()
            exponent = power()
            if abs(exponent) > 64 or (abs(base) > 1e6 and abs(exponent) > 4):
                raise MathsError("That number is too big to say.")
            return float(base**exponent)
        return base

    def multiplicative() -> float:
        value = power()
        while peek() in ("*", "/", "%of", "%off"):
            op, right = take(), power()
            if op == "*":
                value *= right
            elif op == "/":
                if right == 0:
                    raise MathsError("You can't divide by zero.")
                value /= right
            elif op == "%of":
                value = value / 100 * right
            else:
                value = right * (1 - value / 100)
        return value

    def additive() -> float:
        value = multiplicative()
        while peek() in ("+", "-"):
            value = value + multiplicative() if take() == "+" else value - multiplicative()
        return value

    result = additive()
    if position != len(tokens):
        raise ValueError("trailing tokens")
    return result


def _spoken_expression(tokens: list[str | float]) -> str:
    words = [say_number(t) if isinstance(t, float) else _SPOKEN.get(t, "") for t in tokens]
    return re.sub(r"\s+", " ", " ".join(w for w in words if w)).strip()


_SUM = re.compile(rf"\b(?:the sum of|add) ({AMOUNT}) (?:and|to|plus) ({AMOUNT})$")
_PRODUCT = re.compile(rf"\b(?:the product of|multiply) ({AMOUNT}) (?:and|by) ({AMOUNT})$")
_HALF = re.compile(rf"^(half|a half|a quarter|a third|double|twice|triple) (?:of )?({AMOUNT})$")
_TIP = re.compile(rf"^(?:a |the )?({AMOUNT}) ?(?:percent|%|per cent) tip (?:on|for) ({AMOUNT})$")


def answer_maths(said: str) -> str | None:
    expression = _SUFFIX.sub("", _PREFIX.sub("", said.strip().rstrip("?"))).strip()
    expression = re.sub(r"(?<=\d),(?=\d{3}\b)", "", expression)
    expression = re.sub(r"(?<=\d)\s*%(?! ?of| ?off)", " percent", expression)
    shortcut = _shortcut(expression)
    if shortcut is not None:
        return shortcut
    if not re.search(r"\d|\b(?:times|plus|minus|divided|squared|cubed|root|percent|power)\b", expression):
        return None
    tokens = tokenize(expression)
    if not tokens or not any(isinstance(t, str) for t in tokens) or not any(isinstance(t, float) for t in tokens):
        return None
    try:
        result = evaluate(tokens)
    except MathsError as err:
        return str(err)
    except (ValueError, OverflowError, ZeroDivisionError):
        return None
    if math.isnan(result) or math.isinf(result):
        return "That number is too big to say."
    spoken = _spoken_expression(tokens)
    return f"{spoken[:1].upper()}{spoken[1:]} is {say_number(result)}."


def _shortcut(expression: str) -> str | None:
    for pattern, symbol in ((_SUM, "+"), (_PRODUCT, "*")):
        found = pattern.search(expression)
        if found:
            a, b = parse_amount(found.group(1)), parse_amount(found.group(2))
            if a is None or b is None:
                return None
            result = a + b if symbol == "+" else a * b
            word = "plus" if symbol == "+" else "times"
            return f"{say_number(a).capitalize()} {word} {say_number(b)} is {say_number(result)}."
    found = _HALF.match(expression)
    if found:
        value = parse_amount(found.group(2))
        if value is None:
            return None
        factor = {"half": 0.5, "a half": 0.5, "a quarter": 0.25, "a third": 1 / 3, "double": 2, "twice": 2,
                  "triple": 3}[found.group(1)]
        return f"{found.group(1).capitalize()} of {say_number(value)} is {say_number(value * factor)}."
    found = _TIP.match(expression)
    if found:
        rate, bill = parse_amount(found.group(1)), parse_amount(found.group(2))
        if rate is None or bill is None:
            return None
        tip = rate / 100 * bill
        return (f"A {say_number(rate)} percent tip on {say_number(bill)} is {say_number(tip)}, "
                f"making {say_number(bill + tip)} in total.")
    return None
