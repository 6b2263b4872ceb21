"""What the hub remembers: each satellite's recent turns and the facts people state.

Facts come from plain statements ("my name is Sam", "the kids' bedtime is 8", "remember
that the bins go out on Monday"). Each keeps its provenance (room, satellite, turn, time)
and a time to live. A key holds one current value: a newer statement replaces the older
one, which stays in the table marked as replaced and is logged, so nothing changes silently.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from hub.pipeline.conversation_settings import default
from hub.storage.store import Store

_LOGGER = logging.getLogger(__name__)

MAX_VALUE_CHARS = 80
MAX_KEY_CHARS = 40

_QUESTION_START = re.compile(r"^(what|who|when|where|which|how|why|is|are|do|does|can|could|will|would)\b", re.I)
_REMEMBER = re.compile(r"^(?:please )?remember(?: that)? (?P<subject>.{1,60}?) (?P<verb>is|are) (?P<value>.+)$", re.I)
_MY = re.compile(r"^(?:and )?my (?P<subject>.{1,40}?) (?P<verb>is|are) (?P<value>.+)$", re.I)
_POSSESSIVE = re.compile(r"^(?:the |our )?(?P<subject>[\w ]{0,30}?\w(?:'s|s') [\w ]{1,30}?) (?P<verb>is|are) "
                         r"(?P<value>.+)$", re.I)


@dataclass(frozen=True)
class Fact:
    id: int
    key: str
    value: str
    statement: str
    satellite: str
    room: str
    turn_id: str | None
    created: float
    expires: float


@dataclass(frozen=True)
class FactChange:
    """What storing one statement did (for the log and the tests)."""

    fact: Fact
    replaced: Fact | None = None
    refreshed: bool = False


def extract_fact(text: str) -> tuple[str, str, str] | None:
    """(key, value, statement for the prompt) from a plain statement, or None."""
    sentence = text.strip().rstrip(".!").strip()
    if not sentence or sentence.endswith("?") or _QUESTION_START.match(sentence):
        return None
    for pattern, owner in ((_MY, "the user's "), (_REMEMBER, ""), (_POSSESSIVE, "")):
        match = pattern.match(sentence)
        if match is None:
            continue
        subject = re.sub(r"^(the|our) ", "", match["subject"].strip(), flags=re.I).lower()
        value = match["value"].strip().rstrip(",;")
        if not subject or not value or len(subject) > MAX_KEY_CHARS or len(value) > MAX_VALUE_CHARS:
            return None
        key = f"my {subject}" if owner else subject
        return key, value, f"{owner}{subject} {match['verb'].lower()} {value}"
    return None


class MemorySettings(BaseModel):
    """``[memory]``: the facts people state."""

    model_config = ConfigDict(extra="forbid")

    fact_ttl_days: float = Field(default=180, gt=0, le=3650, description="How long a stated fact is kept, days")
    facts_in_prompt: int = Field(default=20, ge=0, le=100, description="Most facts given to the language model")


_DEFAULTS = MemorySettings()


class Memory:
    def __init__(self, store: Store, *, fact_ttl_s: float = _DEFAULTS.fact_ttl_days * 86400,
                 max_facts_in_prompt: int = _DEFAULTS.facts_in_prompt,
                 context_turns: int = default("history_turns"), clock: Callable[[], float] = time.time) -> None:
        """Defaults: ``[memory]`` and ``[conversation] history_turns``, the settings' own."""
        self._store = store
        self._ttl = fact_ttl_s
        self._max_facts = max_facts_in_prompt
        self._context_turns = max(1, context_turns)
        self._clock = clock

    # -- facts -----------------------------------------------------------------------------
    def learn_from(self, text: str, *, satellite: str, room: str, turn_id: str | None) -> FactChange | None:
        found = extract_fact(text)
        if found is None:
            return None
        key, value, statement = found
        now = self._clock()
        expires = now + self._ttl
        with self._store.transaction() as db:
            row = db.execute("SELECT * FROM facts WHERE key = ? AND replaced_by IS NULL AND expires > ?",
                             (key, now)).fetchone()
            old = _fact(row) if row else None
            if old is not None and old.value.lower() == value.lower():
                db.execute("UPDATE facts SET expires = ? WHERE id = ?", (expires, old.id))
                change = FactChange(fact=_replace_expiry(old, expires), refreshed=True)
            else:
                cursor = db.execute(
                    "INSERT INTO facts(key, value, statement, satellite, room, turn_id, created, expires)"
                    " VALUES(?, ?, ?, ?, ?, ?, ?, ?)", (key, value, statement, satellite, room, turn_id, now, expires))
                new_id = int(cursor.lastrowid or 0)
                if old is not None:
                    db.execute("UPDATE facts SET replaced_by = ? WHERE id = ?", (new_id, old.id))
                new = Fact(new_id, key, value, statement, satellite, room, turn_id, now, expires)
                change = FactChange(fact=new, replaced=old)
        if change.replaced is not None:
            _LOGGER.info("memory: %r replaced %r (said in the %s, turn %s; the old value was said in the %s)",
                         change.fact.statement, change.replaced.statement, room, turn_id, change.replaced.room)
        elif not change.refreshed:
            _LOGGER.info("memory: learned %r (said in the %s, turn %s)", statement, room, turn_id)
        return change

    def facts(self) -> list[Fact]:
        """Current facts, newest last; expired ones are left out."""
        rows = self._store.query(
            "SELECT * FROM facts WHERE replaced_by IS NULL AND expires > ? ORDER BY created DESC, id DESC LIMIT ?",
            (self._clock(), self._max_facts))
        return [_fact(row) for row in reversed(rows)]

    def statements(self) -> tuple[str, ...]:
        return tuple(f.statement for f in self.facts())

    def history(self, key: str) -> list[Fact]:
        """Every value a key has had, oldest first (replaced ones included)."""
        return [_fact(r) for r in self._store.query("SELECT * FROM facts WHERE key = ? ORDER BY id", (key,))]

    # -- conversation context ----------------------------------------------------------------
    def remember_turn(self, satellite: str, user_text: str, spoken: str) -> None:
        with self._store.transaction() as db:
            (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM context WHERE satellite = ?",
                                 (satellite,)).fetchone()
            db.execute("INSERT INTO context VALUES(?, ?, ?, ?, ?)",
                       (satellite, last + 1, user_text, spoken, self._clock()))
            db.execute("DELETE FROM context WHERE satellite = ? AND seq <= ?",
                       (satellite, last + 1 - self._context_turns))

    def context(self, satellite: str) -> list[tuple[str, str]]:
        rows = self._store.query("SELECT user_text, spoken FROM context WHERE satellite = ? ORDER BY seq DESC LIMIT ?",
                                 (satellite, self._context_turns))
        return [(str(u), str(s)) for u, s in reversed(rows)]


def _fact(row: tuple[object, ...]) -> Fact:
    fid, key, value, statement, satellite, room, turn_id, created, expires, _replaced = row
    return Fact(int(fid), str(key), str(value), str(statement), str(satellite), str(room),  # type: ignore[call-overload]
                None if turn_id is None else str(turn_id), float(created), float(expires))  # type: ignore[arg-type]


def _replace_expiry(fact: Fact, expires: float) -> Fact:
    return Fact(fact.id, fact.key, fact.value, fact.statement, fact.satellite, fact.room, fact.turn_id,
                fact.created, expires)
