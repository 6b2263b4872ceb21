"""Conversation events as recorded JSON, by recording format.

A recording's header names its format. Format 2 stores each payload's dataclass fields
(``hub.conversation.event_data``) under ``data``. Format 1 (recordings made before the
payloads were typed) stored free-form dicts: the wake that opened a turn spread into the
turn-started data, state changes as ``from``/``to``, and fields now required could be missing
(they read as the old readers' defaults); it is converted on read, so old sessions still replay. Any other format is refused with one line naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pydantic

from hub.conversation.event_data import EventKind
from hub.conversation.events import PAYLOADS, ConversationEvent, EventData

FORMAT = 2
"""The format this hub writes."""
READABLE = (1, 2)
_WAKE_FIELDS = ("wake_word", "score", "level_dbfs", "near_miss", "preroll_ms")


class EventFormatError(ValueError):
    pass


def check_format(version: object) -> int:
    """The recording format ``version`` if this hub reads it, else :class:`EventFormatError`."""
    if version not in READABLE or not isinstance(version, int):
        raise EventFormatError(f"recording format {version!r} is not one this hub reads "
                               f"(formats {READABLE[0]} to {READABLE[-1]}); replay it with the hub that recorded it")
    return version


def event_to_json(event: ConversationEvent) -> dict[str, Any]:
    return {"satellite": event.satellite, "kind": event.kind.value, "t": event.t, "wall": event.wall,
            "turn_id": event.turn_id, "data": dataclasses.asdict(event.data)}


def event_from_json(raw: Mapping[str, Any], version: int = FORMAT) -> ConversationEvent:
    """One recorded event; :class:`EventFormatError` says what is wrong with it."""
    try:
        kind = EventKind(raw["kind"])
        t = float(raw["t"])
        data = dict(raw.get("data") or {})
        if version == 1:
            data = _from_format_1(kind, data, t)
        payload: EventData = _adapter(kind).validate_python(data)
        return ConversationEvent(satellite=str(raw["satellite"]), data=payload, t=t, wall=float(raw["wall"]),
                                 turn_id=raw.get("turn_id"))
    except (KeyError, ValueError, TypeError) as err:  # pydantic's ValidationError is a ValueError
        raise EventFormatError(f"bad {raw.get('kind', 'untyped')} event: {err}") from err


_ADAPTERS: dict[EventKind, pydantic.TypeAdapter[Any]] = {}


def _adapter(kind: EventKind) -> pydantic.TypeAdapter[Any]:
    """Each kind's validator, built on first use."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = pydantic.TypeAdapter(PAYLOADS[kind])
    return adapter


def _from_format_1(kind: EventKind, data: dict[str, Any], t: float) -> dict[str, Any]:
    if kind in (EventKind.TURN_STARTED, EventKind.ARBITRATION_LOST):
        wake = {key: data.pop(key) for key in _WAKE_FIELDS if key in data}
        data["wake"] = wake if wake.get("wake_word") else None
        data.setdefault("room", "")
        data.setdefault("listen", True)
    elif kind is EventKind.STATE_CHANGED:
        data = {"before": data.get("from"), "after": data.get("to"), "cause": data.get("cause")}
    elif kind is EventKind.SPEECH_ENDED:
        data.setdefault("speech_end_t", t)  # the timeline measured from the event itself then
    elif kind is EventKind.TRANSCRIPT:  # simulated sessions wrote the words alone
        data.setdefault("audio_ms", 0.0)
        data.setdefault("stt_ms", 0.0)
    return data
