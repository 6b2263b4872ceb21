"""What every part of a turn shares: the port to its session, its audio queue, its state and its events.

The turn is split by stage (``listening``, ``answering``, ``speaking``; ``turn`` runs them); this is
the state they share. A turn sees its session only through :class:`TurnSession`, so the pipeline does
not depend on the conversation package that owns sessions.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

from wyoming.event import Event

from hub.conversation.event_data import Wake
from hub.conversation.events import ConversationEvent, EventData
from hub.home.intents import Intent
from hub.home.skills import SatelliteActions
from hub.pipeline.endpointing import EndpointSettings
from hub.pipeline.ports import Transcription
from hub.pipeline.speaking import Speaker
from hub.pipeline.speculation import SpeculativeAnswer
from hub.pipeline.transcript import Cleaned, Doubt
from hub.pipeline.turn_services import TurnServices
from protocol.payloads import InterruptReason


class SatelliteGone(ConnectionError):
    """The turn's satellite is not connected, or its connection closed while the turn spoke to it."""

    code = "satellite_disconnected"


class TurnSession(SatelliteActions, Protocol):
    """What a turn needs from the session that owns it (``hub.conversation.session.SatelliteSession``)."""

    @property
    def id(self) -> str: ...

    @property
    def area(self) -> str: ...

    @property
    def history(self) -> Sequence[tuple[str, str]]:
        """(what the person said, what was spoken back), oldest first."""

    async def send(self, event: Event) -> None:
        """To the satellite; raises :class:`SatelliteGone` when it is not connected."""

    async def send_error(self, text: str, code: str | None) -> None: ...

    def remember(self, user: str, spoken: str) -> None:
        """Keep a finished exchange in the conversation history."""


AUDIO_STOPPED = object()
"""Put on a turn's audio queue when the satellite sends ``audio-stop`` (it ended speech itself)."""
GUESS_READY = object()
"""Put on a turn's audio queue when a speculative transcript has been judged (an early commit may be due)."""


class TurnBase(abc.ABC):
    """What every stage of a turn shares; :class:`hub.pipeline.turn.Turn` joins the stages."""

    def __init__(self, services: TurnServices, session: TurnSession, turn_id: str, *,
                 text: str | None = None, announce: str | None = None, wake: Wake | None = None,
                 endpoint: EndpointSettings | None = None) -> None:
        self.services = services
        self.session = session
        self.turn_id = turn_id
        self.audio: asyncio.Queue[object] = asyncio.Queue(maxsize=2000)
        self.audio_dropped = 0
        self._given_text = text
        self._announce = announce
        self._wake = wake
        self._endpoint = endpoint or services.settings.endpoint
        self.interrupt_reason: InterruptReason | None = None
        self.transcript = ""
        self.handler = ""
        self.heard: Cleaned | None = None
        """The transcript cleaned of a leftover wake phrase and fillers (``hub.pipeline.transcript``)."""
        self.doubt: Doubt | None = None
        """Why the turn will not act on what it heard, or None."""
        self.speaker = Speaker(services.tts, session.send, self.emit)
        self.played = asyncio.Event()
        self.listening_done = False
        self._speculative: SpeculativeAnswer | None = None
        self._guessed: tuple[str, Intent | None] | None = None

    def emit(self, data: EventData) -> ConversationEvent:
        event = ConversationEvent(self.session.id, data, turn_id=self.turn_id)
        self.services.bus.emit(event)
        return event

    def _wake_word(self) -> str | None:
        """The wake word that opened the turn (its leftover is cut from the transcript), or None."""
        if self._wake is None or not self._wake.wake_word:
            return None
        return self._wake.wake_word

    @abc.abstractmethod
    async def _judge(self, result: Transcription) -> str:
        """What a speculative transcript would lead to (listening asks; ``hub.pipeline.answering`` knows)."""

    def _guess_judged(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a full queue still holds audio that re-checks the commit
            self.audio.put_nowait(GUESS_READY)

    async def _drop_speculative(self) -> None:
        speculative, self._speculative = self._speculative, None
        if speculative is not None:
            await speculative.cancel()
