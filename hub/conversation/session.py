"""Everything the hub knows about one satellite, and the one turn it may have open."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from wyoming.error import Error
from wyoming.event import Event
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted

from hub.conversation.control import SatelliteControl
from hub.home.timers import Timer
from hub.pipeline.endpointing import EndpointSettings
from hub.pipeline.turn import SatelliteGone, Turn
from hub.pipeline.turn_services import TurnServices
from protocol.payloads import InterruptReason
from protocol.wyoming_events import InterruptEvent

_LOGGER = logging.getLogger(__name__)

Sender = Callable[[Event], Awaitable[None]]


class SatelliteSession:
    """One satellite's conversation: history, volume, the open turn (at most one) and its task."""

    def __init__(self, satellite_id: str, services: TurnServices, *, name: str | None = None,
                 area: str | None = None,
                 fallback_control: Callable[[str], SatelliteControl | None] = lambda satellite: None,
                 history: list[tuple[str, str]] | None = None,
                 on_remember: Callable[[str, str], None] = lambda user, spoken: None) -> None:
        self.id = satellite_id
        self.name = name or satellite_id
        self.area = area or satellite_id
        self.services = services
        self.history: collections.deque[tuple[str, str]] = collections.deque(
            history or (), maxlen=max(1, services.settings.history_turns))
        self._on_remember = on_remember
        self.volume: int | None = None
        """Playback volume, percent, as the satellite last said (None: it never has)."""
        self.muted: bool | None = None
        self.direct_control: SatelliteControl | None = None
        """Our satellite's own Wyoming link (set by the link once the satellite says its state there)."""
        self._fallback_control = fallback_control
        self.endpoint: EndpointSettings | None = None
        """Per-room end-of-speech settings (the learning layer tunes them); None: the hub default."""
        self.turn: Turn | None = None
        self._task: asyncio.Task[None] | None = None
        self._sender: Sender | None = None
        self._turn_ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:6]
        self._listen_sent = False
        """``listen`` went out after asking again: the next turn opened without a wake word is its follow-up."""

    # -- connection ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._sender is not None

    def attach(self, sender: Sender) -> None:
        self._sender = sender

    async def detach(self) -> None:
        self._sender = None
        self.direct_control = None
        await self.interrupt(InterruptReason.SATELLITE_LOST, tell_satellite=False)

    async def send(self, event: Event) -> None:
        if self._sender is None:
            raise SatelliteGone(f"satellite {self.id} is not connected")
        try:
            await self._sender(event)
        except SatelliteGone:
            raise
        except ConnectionError as err:  # its socket closed under us: the same as gone, for whoever sent
            raise SatelliteGone(f"satellite {self.id}: {err}") from err

    async def send_error(self, text: str, code: str | None) -> None:
        await self.send(Error(text=text, code=code).event())

    # -- turns ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def new_turn(self, **kwargs: Any) -> Turn:
        """A turn that buffers audio from now on; ``start`` runs it (after arbitration, for wakes)."""
        turn_id = f"{self._prefix}-{next(self._turn_ids)}"
        kwargs.setdefault("endpoint", self.endpoint)
        turn = Turn(self.services, self, turn_id, **kwargs)
        turn.follow_up = self._listen_sent and not {"wake", "text", "announce"} & {k for k, v in kwargs.items() if v}
        return turn

    async def start(self, turn: Turn, *, barge_reason: InterruptReason = InterruptReason.WAKE_WORD) -> None:
        if self.busy:  # one turn per satellite: a new wake ends the old answer first
            await self.interrupt(barge_reason, tell_satellite=False)
        self.turn = turn
        self._listen_sent = False  # whatever this turn is, a listen sent before it has been used or dropped
        self._task = asyncio.create_task(self._run(turn), name=f"turn-{turn.turn_id}")
        self._task.add_done_callback(self._turn_done)

    async def _run(self, turn: Turn) -> None:
        await turn.run()
        # Ask, then listen, as a person does; but only once in a row, so a room that is never understood
        # (a radio, a mumble) does not keep the microphone open turn after turn.
        if turn.asked_again and not turn.follow_up and self.services.settings.listen_after_asking:
            control = self.control
            if control is not None and self.connected:
                try:
                    self._listen_sent = await control.listen()
                except ConnectionError as err:
                    _LOGGER.info("%s: could not ask the satellite to listen: %s", self.id, err)

    def _turn_done(self, task: asyncio.Task[None]) -> None:
        if task is self._task:
            self._task = None
            self.turn = None
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("%s: turn task failed", self.id, exc_info=task.exception())

    async def interrupt(self, reason: InterruptReason, *, turn_id: str | None = None,
                        tell_satellite: bool = True) -> bool:
        """Cancel the open turn's LLM and TTS work at once; True if there was one."""
        task, turn = self._task, self.turn
        if task is None or turn is None or task.done():
            return False
        if turn_id is not None and turn_id != turn.turn_id:
            return False  # a late interrupt for a turn that has already ended
        turn.interrupt_reason = reason
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if tell_satellite and self.connected:
            with contextlib.suppress(ConnectionError):
                await self.send(InterruptEvent(reason=reason, turn_id=turn.turn_id).event())
        return True

    async def wait_idle(self) -> None:
        task = self._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def close(self) -> None:
        await self.interrupt(InterruptReason.HUB, tell_satellite=False)

    def remember(self, user: str, spoken: str) -> None:
        self.history.append((user, spoken))
        self._on_remember(user, spoken)

    # -- what fast-path skills may do (hub.home.skills.SatelliteActions) ------------------------
    async def timer_started(self, timer: Timer) -> None:
        await self.send(TimerStarted(id=timer.id, total_seconds=timer.total_seconds, name=timer.name).event())

    async def timer_cancelled(self, timer: Timer) -> None:
        await self.send(TimerCancelled(id=timer.id).event())

    async def timer_finished(self, timer: Timer) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(TimerFinished(id=timer.id).event())

    # -- control (hub.conversation.control): one port, Wyoming or MQTT -------------------------
    @property
    def control(self) -> SatelliteControl | None:
        """How to reach this satellite now: its own Wyoming link if it speaks our extension, else the
        composition root's fallback (MQTT, when it is on); None: there is no way."""
        if self.direct_control is not None and self.connected:
            return self.direct_control
        return self._fallback_control(self.id)

    def satellite_state(self, *, volume: int, muted: bool) -> None:
        """The satellite said how it is (over Wyoming or MQTT): volume steps start from here."""
        self.volume, self.muted = volume, muted

    async def set_volume(self, volume: int) -> bool:
        """False if this satellite cannot be reached for it (nothing was sent)."""
        control = self.control
        if control is None:
            return False
        await control.set_volume(volume)
        self.volume = volume  # until the satellite confirms: a second "louder" steps from here
        return True

    async def set_muted(self, muted: bool) -> bool:
        control = self.control
        if control is None:
            return False
        await control.set_muted(muted)
        self.muted = muted
        return True

    async def tune(self, *, wake_threshold: float | None, end_of_speech_silence_ms: int | None) -> bool:
        control = self.control
        if control is None:
            return False
        await control.tune(wake_threshold=wake_threshold, end_of_speech_silence_ms=end_of_speech_silence_ms)
        return True

