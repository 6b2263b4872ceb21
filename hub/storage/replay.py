"""``python -m hub replay <session>``: re-run a recorded session and check it comes out the same.

The recorded events (minus the state changes, which are what is checked) go through a
fresh state machine and a learner restored from the session's snapshot; recorded commands
are applied where they happened. The transitions and learning decisions that come out must
equal the recorded ones, in order. Exit 0 when they do, 1 when they do not, 2 when the
session cannot be read (one line saying why, e.g. a recording format this hub does not read).
Recordings of an older format are converted on read (``hub.storage.event_format``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.conversation.bus import EventBus
from hub.conversation.event_data import StateChanged
from hub.conversation.events import ConversationEvent
from hub.conversation.state_machine import StateTracker
from hub.learning.learner import Learner, LearningCommandError
from hub.storage.event_format import EventFormatError, check_format, event_from_json
from hub.storage.recorder import session_path
from protocol.payloads import LearningDecision

Transition = tuple[str, str | None, str, str]
"""(satellite, turn id, from, to)."""
Decision = tuple[Any, ...]


class SessionFormatError(ValueError):
    pass


@dataclass
class Recording:
    session_id: str
    learning: dict[str, Any]
    entries: list[dict[str, Any]]
    format: int
    """The recording format its events are in (``hub.storage.event_format``)."""


@dataclass
class ReplayResult:
    session_id: str
    events: int = 0
    recorded_transitions: list[Transition] = field(default_factory=list)
    replayed_transitions: list[Transition] = field(default_factory=list)
    recorded_decisions: list[Decision] = field(default_factory=list)
    replayed_decisions: list[Decision] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return (self.recorded_transitions == self.replayed_transitions
                and self.recorded_decisions == self.replayed_decisions)

    def first_difference(self) -> str | None:
        for what, recorded, replayed in (("transition", self.recorded_transitions, self.replayed_transitions),
                                         ("decision", self.recorded_decisions, self.replayed_decisions)):
            for index in range(max(len(recorded), len(replayed))):
                a = recorded[index] if index < len(recorded) else None
                b = replayed[index] if index < len(replayed) else None
                if a != b:
                    return f"{what} {index + 1}: recorded {a}, replayed {b}"
        return None


def load(path: Path) -> Recording:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SessionFormatError(f"cannot read session {path}: {err}") from err
    if not records or records[0].get("type") != "session":
        raise SessionFormatError(f"{path} is not a recorded session (no session header)")
    header = records[0]
    try:
        version = check_format(header.get("format"))
    except EventFormatError as err:
        raise SessionFormatError(f"{path}: {err}") from err
    return Recording(str(header.get("id", path.stem)), dict(header.get("learning") or {}), records[1:], version)


def _decision_key(decision: LearningDecision | dict[str, Any]) -> Decision:
    raw = decision.model_dump(mode="json") if isinstance(decision, LearningDecision) else decision
    return (raw.get("room"), raw.get("parameter"), raw.get("action"), raw.get("old_value"), raw.get("new_value"),
            raw.get("reason"), json.dumps(raw.get("evidence") or {}, sort_keys=True))


def replay(recording: Recording) -> ReplayResult:
    result = ReplayResult(recording.session_id)
    bus = EventBus()
    StateTracker(bus)
    learner = Learner(state=recording.learning,
                      on_decision=lambda d: result.replayed_decisions.append(_decision_key(d)))
    bus.subscribe(learner)

    def transitions(event: ConversationEvent) -> None:
        if isinstance(event.data, StateChanged):
            result.replayed_transitions.append(_transition(event, event.data))

    bus.subscribe(transitions)
    for entry in recording.entries:
        kind = entry.get("type")
        if kind == "event":
            try:
                event = event_from_json(entry, recording.format)
            except EventFormatError as err:
                raise SessionFormatError(f"bad event in session {recording.session_id}: {err}") from err
            if isinstance(event.data, StateChanged):
                result.recorded_transitions.append(_transition(event, event.data))
                continue
            result.events += 1
            bus.emit(event)
        elif kind == "decision":
            result.recorded_decisions.append(_decision_key(entry))
        elif kind == "command":
            try:
                learner.command(str(entry["action"]), entry.get("room"), entry.get("parameter"))
            except LearningCommandError:
                pass  # it failed live too, and was answered with an error
    return result


def _transition(event: ConversationEvent, change: StateChanged) -> Transition:
    return event.satellite, event.turn_id, change.before.value, change.after.value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub replay", description=__doc__.splitlines()[0])
    parser.add_argument("session", help="session file, its id, or 'last' (looked up in DATA_DIR/sessions)")
    parser.add_argument("--data-dir", type=Path, default=Path("var/hub"), help="the hub's data_dir")
    parser.add_argument("--show", action="store_true", help="print every transition and decision")
    args = parser.parse_args(argv)
    try:
        result = replay(load(session_path(args.data_dir, args.session)))
    except (FileNotFoundError, SessionFormatError) as err:
        print(f"replay: {err}", file=sys.stderr)
        return 2
    _print(result, show=args.show)
    return 0 if result.matches else 1


def _print(result: ReplayResult, *, show: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if show:
        table = Table(title=f"session {result.session_id}: transitions")
        for column in ("satellite", "turn", "from", "to"):
            table.add_column(column)
        for satellite, turn_id, before, after in result.replayed_transitions:
            table.add_row(satellite, turn_id or "", before, after)
        console.print(table)
        for decision in result.replayed_decisions:
            console.print(f"decision: {decision[2]} {decision[1]} in {decision[0]}: {decision[3]} -> {decision[4]} "
                          f"({decision[5]})")
    verdict = "[green]identical[/green]" if result.matches else "[red]DIFFERENT[/red]"
    console.print(f"session {result.session_id}: {result.events} events replayed; "
                  f"{len(result.replayed_transitions)} of {len(result.recorded_transitions)} transitions, "
                  f"{len(result.replayed_decisions)} of {len(result.recorded_decisions)} learning decisions: {verdict}")
    difference = result.first_difference()
    if difference:
        console.print(f"first difference: {difference}")
