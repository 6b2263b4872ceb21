"""Bytes on the wire <-> typed payloads, with one clear error type.

``decode(topics, topic, raw)`` picks the model from the topic, so a subscriber never
sees a raw dict: it gets a model or a :class:`PayloadError` that says what was wrong.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from protocol import commands, payloads
from protocol.topics import ConversationTopic, HubTopic, SatelliteTopic, TopicError, Topics

MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest MQTT payload we parse; bigger ones are refused unread."""


class PayloadError(ValueError):
    """A payload that does not match its topic's model. ``code`` is stable, ``str()`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_SATELLITE_MODELS: dict[str, Any] = {
    SatelliteTopic.ANNOUNCE: payloads.SatelliteAnnounce,
    SatelliteTopic.AVAILABILITY: payloads.Availability,
    SatelliteTopic.STATE: payloads.SatelliteState,
    SatelliteTopic.WAKE: payloads.WakeDetection,
    SatelliteTopic.INTERRUPT: payloads.Interrupt,
    SatelliteTopic.METRICS: payloads.SatelliteMetrics,
    SatelliteTopic.RESULT: payloads.CommandResult,
}
_CONVERSATION_MODELS: dict[str, Any] = {
    ConversationTopic.STATE: payloads.ConversationState,
    ConversationTopic.TURN: payloads.TurnReport,
    ConversationTopic.ANNOUNCEMENT: payloads.TurnReport,
    ConversationTopic.LINK: payloads.SatelliteLink,
    ConversationTopic.OWNER: payloads.SatelliteOwner,
}
_HUB_MODELS: dict[str, Any] = {
    HubTopic.AVAILABILITY: payloads.Availability,
    HubTopic.STATE: payloads.HubState,
    HubTopic.METRICS: payloads.HubMetrics,
    HubTopic.ARBITRATION: payloads.ArbitrationDecision,
    HubTopic.LEARNING: payloads.LearningDecision,
    HubTopic.COMMAND: commands.HUB_COMMAND,
    HubTopic.RESULT: payloads.CommandResult,
}


def encode(message: BaseModel | payloads.Availability) -> bytes:
    """Serialise a payload for publishing (availability is plain text, the rest JSON)."""
    if isinstance(message, payloads.Availability):
        return message.value.encode()
    return message.model_dump_json(exclude_none=True).encode()


def decode_as(model: Any, raw: bytes | bytearray | str) -> Any:
    """Parse ``raw`` as ``model`` (a payload class, a ``TypeAdapter`` or ``Availability``)."""
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as err:
        raise PayloadError("not_utf8", f"payload is not UTF-8: {err}") from None
    if model is payloads.Availability:
        try:
            return payloads.Availability(text.strip())
        except ValueError:
            raise PayloadError("invalid", f"availability must be 'online' or 'offline', got {text[:40]!r}") from None
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_json(text)
        return model.model_validate_json(text)
    except ValidationError as err:
        raise PayloadError("invalid", _describe(err)) from None


def model_for(topics: Topics, topic: str) -> Any:
    """The model that payloads on ``topic`` must match."""
    parsed = topics.parse(topic)
    table = {
        "satellite": _SATELLITE_MODELS,
        "conversation": _CONVERSATION_MODELS,
        "hub": _HUB_MODELS,
        "hubs": {"availability": payloads.Availability},
    }.get(parsed.area)
    if parsed.area == "command":
        return commands.SATELLITE_COMMAND
    assert table is not None and parsed.leaf is not None
    return table[parsed.leaf]


def decode(topics: Topics, topic: str, raw: bytes | bytearray | str) -> Any:
    """Parse a message received on ``topic``; raise :class:`PayloadError` if it does not fit."""
    try:
        model = model_for(topics, topic)
    except TopicError as err:
        raise PayloadError("unknown_topic", str(err)) from None
    return decode_as(model, raw)


def _describe(err: ValidationError) -> str:
    parts = []
    for item in err.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "payload"
        parts.append(f"{where}: {item['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
