"""What a room has learned, applied: the hub's own end-of-speech windows, and the satellite's wake
threshold and end-of-speech silence through its control port (Wyoming or MQTT).

A satellite is told on every (re)connect, once it can be reached, and whenever the learner changes a
value of its room. Defaults are left to the satellite's own settings. A satellite no route reaches
keeps its own values (logged); the hub's windows change anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping

from hub.conversation.session import SatelliteSession
from hub.learning.contract import COMMAND_WINDOW, END_OF_SPEECH, WAKE_THRESHOLD
from hub.learning.learner import Learner
from hub.pipeline.endpointing import EndpointSettings
from hub.pipeline.turn import SatelliteGone

_LOGGER = logging.getLogger(__name__)


class LearnedTuning:
    def __init__(self, learner: Learner, sessions: Mapping[str, SatelliteSession], base: EndpointSettings) -> None:
        self._learner = learner
        self._sessions = sessions
        self._base = base
        self._sending: set[asyncio.Task[None]] = set()
        """Tune messages on their way (each a moment); cancelled and awaited on close."""

    def apply(self, session: SatelliteSession) -> None:
        """Give a (re)connected satellite what its room has learned."""
        if session.area in self._learner.rooms:
            specs = self._learner.parameters
            learned = {p: v for p, v in self._learner.values(session.area).items()
                       if p in specs and v != specs[p].default}
            if learned:
                self._tune(session, learned)

    def changed(self, room: str, parameter: str, value: float) -> None:
        """The learner's ``on_change``: every satellite in ``room`` follows."""
        for session in self._sessions.values():
            if session.area == room:
                self._tune(session, {parameter: value})

    def _tune(self, session: SatelliteSession, values: dict[str, float]) -> None:
        windows = {field: int(values[p]) for p, field in ((END_OF_SPEECH, "silence_ms"),
                                                           (COMMAND_WINDOW, "command_silence_ms")) if p in values}
        if windows:  # the hub's own end of speech; each learned window keeps the other's value
            session.endpoint = dataclasses.replace(session.endpoint or self._base, **windows)
        if END_OF_SPEECH not in values and WAKE_THRESHOLD not in values:
            return  # the command window is the hub's alone: nothing to tell the satellite
        task = asyncio.create_task(self._send(session, values.get(WAKE_THRESHOLD),
                                              int(values[END_OF_SPEECH]) if END_OF_SPEECH in values else None),
                                   name=f"tune-{session.id}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, session: SatelliteSession, wake_threshold: float | None, silence_ms: int | None) -> None:
        try:
            sent = await session.tune(wake_threshold=wake_threshold, end_of_speech_silence_ms=silence_ms)
        except SatelliteGone:
            sent = False  # it is told again when it is back
        if not sent:
            _LOGGER.info("%s: no way to tell it the learned settings now (neither our Wyoming extension nor MQTT)",
                         session.id)

    async def close(self) -> None:
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
