"""Bounded Wyoming framing.

``wyoming.event.async_read_event`` reads a malformed frame as end-of-stream and trusts any
length a peer declares. Both sides read through :func:`read_frame` instead, which applies
size limits before allocating and turns every kind of bad frame into a :class:`FrameError`
with a stable code, so the connection owner can answer with an ``error`` event, log one
line and close (after a bad frame the byte stream cannot be trusted to re-align).
Writing uses the library's own encoder.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event, async_write_event, write_event


@dataclass(frozen=True)
class FrameLimits:
    max_header_bytes: int = 16 * 1024
    """Longest JSON header line, bytes."""
    max_data_bytes: int = 64 * 1024
    """Longest separate JSON data block, bytes."""
    max_payload_bytes: int = 1024 * 1024
    """Largest binary payload (an audio chunk is a few KiB), bytes."""


DEFAULT_LIMITS = FrameLimits()


class FrameError(Exception):
    """A frame that cannot be read. ``code`` is stable; ``str()`` is for a log line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def stream_limit(limits: FrameLimits = DEFAULT_LIMITS) -> int:
    """``limit=`` to give ``asyncio.start_server``/``open_connection`` so a header cannot overrun it."""
    return limits.max_header_bytes + 1


async def read_frame(reader: asyncio.StreamReader, limits: FrameLimits = DEFAULT_LIMITS) -> Event | None:
    """Read one event; ``None`` at a clean end of stream; :class:`FrameError` for anything malformed."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise FrameError("truncated", f"stream ended inside a header ({len(err.partial)} bytes)") from None
    except (asyncio.LimitOverrunError, ValueError):
        raise FrameError("header_too_large", f"header line longer than {limits.max_header_bytes} bytes") from None
    if len(line) > limits.max_header_bytes + 1:
        raise FrameError("header_too_large", f"header line longer than {limits.max_header_bytes} bytes")

    header = _parse_json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise FrameError("bad_header", "header has no 'type' string")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise FrameError("bad_header", f"'data' of {event_type!r} is not an object")

    data_length = _length(header, "data_length", limits.max_data_bytes)
    payload_length = _length(header, "payload_length", limits.max_payload_bytes)
    if data_length:
        extra = _parse_json_object(await _read_exactly(reader, data_length, "data"), "data block")
        data = {**data, **extra}
    payload = await _read_exactly(reader, payload_length, "payload") if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


async def write_frame(writer: asyncio.StreamWriter, event: Event) -> None:
    await async_write_event(event, writer)


def encode_frame(event: Event) -> bytes:
    """One event as the bytes on the wire, for writers that manage their own buffering."""
    buffer = io.BytesIO()
    write_event(event, buffer)
    return buffer.getvalue()


def _parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FrameError("bad_json", f"{what} is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise FrameError("bad_json", f"{what} is not a JSON object")
    return value


def _length(header: dict[str, Any], key: str, maximum: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError("bad_header", f"{key} must be a non-negative integer, got {value!r}")
    if value > maximum:
        raise FrameError("too_large", f"{key} {value} exceeds the limit of {maximum} bytes")
    return value


async def _read_exactly(reader: asyncio.StreamReader, n: int, what: str) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as err:
        raise FrameError("truncated", f"stream ended after {len(err.partial)} of {n} {what} bytes") from None
