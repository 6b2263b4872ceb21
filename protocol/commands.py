"""Commands sent to satellites (``<root>/v1/command/<id>``) and to the hub (``hub/command``).

Every command has an ``id`` (made for the sender when it gives none, e.g. a Home Assistant
button) and is answered with a :class:`protocol.payloads.CommandResult` carrying that id.
The id is also what makes a command run once (``common/command_intake.py``): a redelivery or a
sender's retry with the same id is dropped, so a sender that retries must reuse it. A command
without one gets a new id on every delivery and cannot be told apart from a second press of the
same button, which is what a Home Assistant button sends; such commands are never retained
(a retained command is refused and cleared).
Satellites own the commands about their own audio; the hub owns those that need speech
synthesis or timekeeping. ``stop`` is obeyed by both: the satellite silences itself and the
hub cancels the work behind the answer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, Union

from pydantic import Field, TypeAdapter

from protocol.payloads import Payload, Percent, ShortText


def new_command_id() -> str:
    return uuid.uuid4().hex


class _Command(Payload):
    id: ShortText = Field(default_factory=new_command_id)
    sender: ShortText | None = None


class StopCommand(_Command):
    """Stop speaking and cancel the current answer."""

    command: Literal["stop"]


class MuteCommand(_Command):
    """Mute (no wake word, no streaming) or unmute the microphone."""

    command: Literal["mute"]
    muted: bool


class VolumeCommand(_Command):
    command: Literal["volume"]
    volume: Percent


class AnnounceCommand(_Command):
    """Speak ``text`` on the target satellite(s) without a conversation."""

    command: Literal["announce"]
    text: Annotated[str, Field(min_length=1, max_length=1000)]


class StartConversationCommand(_Command):
    """Start listening for a command as if the wake word had been said."""

    command: Literal["start_conversation"]


class TimerStartCommand(_Command):
    command: Literal["timer_start"]
    seconds: Annotated[int, Field(ge=1, le=86400)]
    name: ShortText | None = None


class TimerCancelCommand(_Command):
    """Cancel one timer by id, or every timer of the satellite when ``timer_id`` is absent."""

    command: Literal["timer_cancel"]
    timer_id: ShortText | None = None


class TuneCommand(_Command):
    """Apply learned per-room settings (sent by the hub's learning layer)."""

    command: Literal["tune"]
    wake_threshold: Annotated[float, Field(ge=0.05, le=0.99)] | None = None
    end_of_speech_silence_ms: Annotated[int, Field(ge=100, le=3000)] | None = None


class DriverCommand(_Command):
    """Hand the satellite's Wyoming link to the hub or to Home Assistant (answered by the hub).

    ``take_over`` lets the hub connect even while another client holds the satellite; the
    satellite logs it and drops that client. Without it, a held satellite is an ``error``.
    """

    command: Literal["driver"]
    driver: Literal["hub", "home_assistant"]
    take_over: bool = False


class TakeOverCommand(_Command):
    """Drop the Wyoming client driving the satellite now, so the sender can connect (logged with ``sender``).

    The hub sends it for a ``driver`` command with ``take_over``; a satellite otherwise refuses a
    second driver while the first is alive.
    """

    command: Literal["take_over"]


class WakeWordCommand(_Command):
    """Listen for another of the satellite's wake words (one of its announced ``wake_word_options``)."""

    command: Literal["wake_word"]
    wake_word: ShortText


SatelliteCommand = Annotated[
    Union[
        StopCommand,
        MuteCommand,
        VolumeCommand,
        AnnounceCommand,
        StartConversationCommand,
        TimerStartCommand,
        TimerCancelCommand,
        TuneCommand,
        DriverCommand,
        TakeOverCommand,
        WakeWordCommand,
    ],
    Field(discriminator="command"),
]
SATELLITE_COMMAND = TypeAdapter(SatelliteCommand)

SATELLITE_OWNED = frozenset({"stop", "mute", "volume", "start_conversation", "tune", "wake_word", "take_over"})
"""Commands a satellite answers itself; the hub answers the rest."""
HUB_OWNED = frozenset({"announce", "timer_start", "timer_cancel", "driver"})


class LearningCommand(_Command):
    """Steer the learning layer: freeze, unfreeze, reset or roll back, per room or everywhere."""

    command: Literal["learning"]
    action: Literal["freeze", "unfreeze", "reset", "rollback", "enable", "disable"]
    room: ShortText | None = None
    parameter: ShortText | None = None


HubCommand = Annotated[Union[LearningCommand], Field(discriminator="command")]
HUB_COMMAND = TypeAdapter(HubCommand)
