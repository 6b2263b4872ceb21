"""The one way a session tells its satellite something besides a turn: :class:`SatelliteControl`.

Answers (play) and their interruption (stop, the ``interrupt`` event naming the turn) belong to a
turn and travel on the satellite's Wyoming link with it, the only link that carries audio; what the
port carries is what outlives a turn: volume, mute and learned tuning, and the one thing that opens the
next turn: ``listen`` after the hub asked the person to repeat. Two adapters
implement it (hub/adapters/satellite_control.py): our Wyoming extension on the satellite's
own link, and the MQTT commands. Which one a session uses is decided per satellite, each time
(:attr:`hub.conversation.session.SatelliteSession.control`); ``None`` means no way exists, and
whoever was asked says so instead of claiming it was done.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class ControlRoute(StrEnum):
    WYOMING = "wyoming"
    """Our satellite, on its live Wyoming link (it said its state there, so it has the extension)."""
    MQTT = "mqtt"
    """MQTT commands, for a satellite without our extension while MQTT is on."""


class SatelliteControl(Protocol):
    """Tell one satellite to change; each call returns once the message is on its way."""

    @property
    def route(self) -> ControlRoute: ...

    async def set_volume(self, volume: int) -> None:
        """Playback volume, percent 0-100."""

    async def set_muted(self, muted: bool) -> None:
        """Mute (no wake word, no streaming) or unmute the microphone."""

    async def tune(self, *, wake_threshold: float | None, end_of_speech_silence_ms: int | None) -> None:
        """Learned per-room settings; None keeps the satellite's own value."""

    async def listen(self) -> bool:
        """Open the microphone for a follow-up once the current answer has finished playing (a turn with no
        wake word, as ``start_conversation`` starts); False if this route cannot (nothing was sent)."""
