"""Cut streaming LLM text into sentences the moment each one is complete.

A sentence ends at ``.``, ``!``, ``?`` or a newline, followed by optional closing quotes or
brackets and then white space. It does not end after a known abbreviation ("Dr.", "St.",
"e.g."), a single initial ("J."), or inside a number ("3.5", "10.30"): those have no space
after the period or are listed. A run-on longer than ``max_chars`` is cut at a comma or
space so speech starts anyway.

The first piece of an answer may be shorter: with ``first_clause_words`` set, it also ends at a
comma, semicolon or colon once it holds that many words, because the person waits for the
first audio and piper needs time in proportion to the text; later sentences stay whole (they are
synthesised while the first one plays, and whole sentences sound better).
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    (
        "mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "approx",
        "dept", "est", "fig", "inc", "ltd", "mt", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec",
    )
)
_END = re.compile(r"([.!?]+|\n)([\"'”’)\]]*)(\s+)")
_CLAUSE_END = re.compile(r"([,;:])(\s+)")


class SentenceChunker:
    def __init__(self, max_chars: int = 200, *, first_clause_words: int = 0) -> None:
        self._buffer = ""
        self._max_chars = max_chars
        self._first_clause_words = first_clause_words
        self._emitted = False

    def feed(self, text: str) -> list[str]:
        """Add streamed text; return the sentences it completed."""
        self._buffer += text
        sentences: list[str] = []
        search_from = 0
        while True:
            match = _END.search(self._buffer, search_from)
            if match is None:
                break
            if match.group(1).startswith(".") and self._is_abbreviation(self._buffer[: match.start()]):
                search_from = match.end()
                continue
            sentence = self._buffer[: match.end(2)].strip()
            self._buffer = self._buffer[match.end():]
            search_from = 0
            if sentence:
                sentences.append(sentence)
        if not self._emitted and self._first_clause_words:
            if sentences:  # the whole first sentence came at once: piper still starts sooner on its clause
                clause, rest = self._first_clause(sentences[0])
                if clause:
                    sentences[:1] = [clause, rest.strip()]
            else:
                clause, rest = self._first_clause(self._buffer)
                if clause:
                    sentences, self._buffer = [clause], rest
        if len(self._buffer) > self._max_chars:
            cut = max(self._buffer.rfind(", ", 0, self._max_chars), self._buffer.rfind(" ", 0, self._max_chars))
            if cut > 0:
                sentences.append(self._buffer[: cut + 1].strip())
                self._buffer = self._buffer[cut + 1:]
        self._emitted = self._emitted or bool(sentences)
        return sentences

    def _first_clause(self, text: str) -> tuple[str, str]:
        """(clause, rest) at the first clause end with enough words before it, or ("", text)."""
        for match in _CLAUSE_END.finditer(text):
            clause = text[: match.end(1)].strip()
            if len(clause.split()) >= self._first_clause_words:
                return clause, text[match.end():]
        return "", text

    def flush(self) -> list[str]:
        """The rest, at the end of the stream."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    @staticmethod
    def _is_abbreviation(before: str) -> bool:
        word = before.rsplit(None, 1)[-1] if before.split() else ""
        word = word.lstrip("\"'(“‘").lower()
        if word in ABBREVIATIONS or word.rstrip(".") in ABBREVIATIONS:
            return True
        # A lone capital initial ("J. R. R. Tolkien").
        return len(word) == 1 and word.isalpha() and before.rstrip()[-1:].isupper()
