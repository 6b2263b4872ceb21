"""Spelling: "how do you spell necessary" -> "Necessary is spelled N, E, C, E, S, S, A, R, Y."

Whisper writes the word correctly spelled (it is trained on text), so the answer is the
transcript's own letters, spoken one by one: capital letters between commas, which piper reads
as letter names.
"""

from __future__ import annotations

import re

_WORD = r"([a-z][a-z' -]{0,40}?)"
_PATTERNS = (
    re.compile(rf"^(?:can you |could you |please |would you )*(?:tell me )?how (?:do|would|should|can) (?:you|i|we|one) "
               rf"spell {_WORD}(?: for me)?(?: please)?$"),
    re.compile(rf"^(?:can you |could you |please |would you )*spell (?:the word )?{_WORD}(?: for me)?(?: please)?$"),
    re.compile(rf"^how (?:is|do you write) (?:the word )?{_WORD} spel(?:led|t)$"),
    re.compile(rf"^(?:what(?:'s| is) )?(?:the )?spelling (?:of|for) (?:the word )?{_WORD}$"),
)


def spell(word: str) -> str:
    letters = [c.upper() for c in word if c.isalpha()]
    return ", ".join(letters)


def answer_spelling(said: str) -> str | None:
    for pattern in _PATTERNS:
        found = pattern.match(said)
        if not found:
            continue
        word = re.sub(r"^(?:the word |a |an )", "", found.group(1).strip())
        if not word or len(word.split()) > 3:
            return None
        return f"{word[:1].upper()}{word[1:]} is spelled {spell(word)}."
    return None
