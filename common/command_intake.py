"""Commands arrive exactly once, from the user's point of view.

Both bridges (hub and satellite) pass every command delivery through a :class:`CommandIntake`
before acting on it. It answers four questions, in this order:

1. Is it a command at all? A payload that does not parse, but whose ``id`` can be read, is
   refused with an error result (so the sender learns why), not only logged.
2. Is it retained? A retained command would run again on every restart of every receiver
   (a retained ``mute`` re-mutes the room each time), so it is refused; whoever may write the
   command topic (the hub) also clears it from the broker.
3. Has this id been seen? QoS 1 is at-least-once: a redelivery (or a sender's retry) with an
   id already taken is dropped, so nothing runs twice.
4. Is the receiver flooded? Past ``rate_per_s`` (with a burst allowance) a command is refused
   with ``rate_limited`` instead of queueing work without bound.

Logging is bounded (:class:`common.mqtt.LogLimiter`): 10,000 bad messages give a few lines and
a count, not 10,000 lines.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from common.log_limit import LogLimiter
from common.mqtt import Delivery
from protocol import codec
from protocol.topics import Topics

_LOGGER = logging.getLogger(__name__)

REMEMBERED_IDS = 4096
"""Command ids remembered for de-duplication (a redelivery comes within seconds, not thousands later)."""


@dataclass(frozen=True)
class Refusal:
    """A command that is answered with an ``error`` result instead of being run."""

    id: str
    command: str
    code: str
    """Stable: ``invalid``, ``not_utf8``, ``too_large``, ``retained``, ``rate_limited``."""
    message: str


@dataclass
class IntakeStats:
    taken: int = 0
    duplicates: int = 0
    retained: int = 0
    invalid: int = 0
    rate_limited: int = 0


class CommandIntake:
    def __init__(self, topics: Topics, owned: frozenset[str] | None, *, answer_unreadable: bool,
                 rate_per_s: float | None = None, burst: int = 100) -> None:
        """``owned``: command names this receiver answers (None: all); ``answer_unreadable``: also
        refuse payloads whose command name cannot be read (the addressed satellite does, the hub not)."""
        self.topics = topics
        self.owned = owned
        self.answer_unreadable = answer_unreadable
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.stats = IntakeStats()
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._log = LogLimiter(_LOGGER)

    def _mine(self, name: str | None) -> bool:
        if name is None:
            return self.answer_unreadable
        return self.owned is None or name in self.owned

    def take(self, delivery: Delivery) -> Any | Refusal | None:
        """The decoded command to run, a :class:`Refusal` to answer, or None (nothing to do here)."""
        if not delivery.payload:
            return None  # a retained command being cleared
        try:
            command = codec.decode(self.topics, delivery.topic, delivery.payload)
        except codec.PayloadError as err:
            self.stats.invalid += 1
            command_id, name = _readable_id(delivery.payload)
            self._log.warning(f"invalid {err.code}", "refused a command on %s (%s): %s", delivery.topic, err.code, err)
            if command_id is None or not self._mine(name):
                return None
            return Refusal(command_id, name or "unknown", err.code, str(err)[:1900])
        if not self._mine(command.command):
            return None
        if delivery.retain:
            self.stats.retained += 1
            self._log.warning("retained", "refused a retained %s command on %s (id %s): it would run again on "
                              "every restart", command.command, delivery.topic, command.id)
            return Refusal(command.id, command.command, "retained",
                           "commands must not be retained: a retained command runs again on every restart")
        if command.id in self._seen:
            self.stats.duplicates += 1
            self._log.warning("duplicate", "ignored a second delivery of %s command %s", command.command, command.id)
            return None
        self._seen[command.id] = None
        if len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
        if not self._spend():
            self.stats.rate_limited += 1
            self._log.warning("rate", "refused %s command %s: more than %.0f commands a second",
                              command.command, command.id, self.rate_per_s)
            return Refusal(command.id, command.command, "rate_limited",
                           f"more than {self.rate_per_s:.0f} commands a second; try again")
        self.stats.taken += 1
        return command

    def _spend(self) -> bool:
        if self.rate_per_s is None:
            return True
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate_per_s)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


def _readable_id(payload: bytes) -> tuple[str | None, str | None]:
    """``id`` and ``command`` of a payload that failed validation, when they are short strings."""
    if len(payload) > codec.MAX_PAYLOAD_BYTES:
        return None, None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    command_id, name = data.get("id"), data.get("command")
    command_id = command_id if isinstance(command_id, str) and 0 < len(command_id) <= 128 else None
    name = name if isinstance(name, str) and 0 < len(name) <= 64 else None
    return command_id, name
