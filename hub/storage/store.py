"""The hub's durable state: one SQLite file in WAL mode (memory, learning state, context, timers).

Every write is one transaction, so a hub killed with SIGKILL mid-write leaves either the
old or the new state, never half of one. SQLite calls are short and local, so they run on
the event loop; a busy disk shows up as an error the caller reports, not as a hang.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    statement TEXT NOT NULL,
    satellite TEXT NOT NULL,
    room TEXT NOT NULL,
    turn_id TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    replaced_by INTEGER REFERENCES facts(id)
);
CREATE INDEX IF NOT EXISTS facts_current ON facts(key) WHERE replaced_by IS NULL;
CREATE TABLE IF NOT EXISTS context (
    satellite TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_text TEXT NOT NULL,
    spoken TEXT NOT NULL,
    wall REAL NOT NULL,
    PRIMARY KEY (satellite, seq)
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    id TEXT PRIMARY KEY,
    satellite TEXT NOT NULL,
    name TEXT,
    total_seconds INTEGER NOT NULL,
    ends_at REAL NOT NULL,
    paused_remaining REAL,
    finished INTEGER NOT NULL DEFAULT 0
);
"""


class StoreError(RuntimeError):
    code = "store_failed"


class Store:
    """A small typed wrapper over one SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a committed fact survives power loss too
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the hub's state database {path}: {err}") from err
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as err:  # e.g. disk full: the old state stays, the caller reports it
                raise StoreError(f"writing {self.path.name} failed: {err}") from err

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args))

    # -- key/value JSON documents (learning state) ---------------------------------------
    def get_json(self, key: str) -> Any | None:
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        if not rows:
            return None
        try:
            return json.loads(rows[0][0])
        except json.JSONDecodeError:
            _LOGGER.error("state %r in %s is not valid JSON; starting it afresh", key, self.path)
            return None

    def put_json(self, key: str, value: Any) -> None:
        text = json.dumps(value, sort_keys=True)
        with self.transaction() as db:
            db.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, text))

    def integrity_ok(self) -> bool:
        return self.query("PRAGMA integrity_check") == [("ok",)]

    def close(self) -> None:
        with self._lock:
            self._db.close()
