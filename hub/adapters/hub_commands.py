"""The commands the hub answers: announce, timers and driver for satellites (``command/<id>``), learning
for itself (``hub/command``), and ``stop`` for satellites that cannot hear MQTT.

Each is answered with a :class:`protocol.payloads.CommandResult` through the ``result`` callable
(the MQTT bridge publishes it); what takes a while (an announcement until it is played, a driver
switch) runs as a task the hub owns, and is answered when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hub.adapters.satellites import Drivers, switch_driver
from hub.conversation.announcement import Announcement
from hub.conversation.session import SatelliteSession
from hub.conversation.state_machine import StateTracker
from hub.home.timers import TimerRegistry
from hub.learning.learner import Learner, LearningCommandError
from hub.storage.recorder import SessionRecorder
from protocol.commands import (
    AnnounceCommand,
    DriverCommand,
    LearningCommand,
    StopCommand,
    TimerCancelCommand,
    TimerStartCommand,
)
from protocol.payloads import InterruptReason, ResultStatus, SatelliteAnnounce, SatelliteDriver
from protocol.topics import ALL_SATELLITES

_LOGGER = logging.getLogger(__name__)

Result = Callable[..., None]
"""``(command, target, status, code=None, message=None)``: publish the command's result."""


class BridgeHost(Drivers, Protocol):
    """What the bridge reads and asks of the hub (the composition root), and nothing more."""

    @property
    def sessions(self) -> Mapping[str, SatelliteSession]: ...

    @property
    def states(self) -> StateTracker: ...

    @property
    def timers(self) -> TimerRegistry: ...

    @property
    def learner(self) -> Learner: ...

    @property
    def recorder(self) -> SessionRecorder | None: ...

    def publish_state(self) -> None: ...

    def targets(self, target: str) -> list[SatelliteSession]:
        """The connected sessions a command for ``target`` (an id or ALL_SATELLITES) reaches."""

    async def learn_satellite(self, announce: SatelliteAnnounce) -> None: ...

    async def announce(self, satellite_ids: list[str], text: str) -> Announcement: ...

    def run_transient(self, coro: Any, name: str) -> None:
        """Run a command that takes a while as a task the hub cancels on close."""


class HubCommands:
    def __init__(self, hub: BridgeHost, result: Result) -> None:
        self.hub = hub
        self._result = result

    async def satellite_command(self, target: str, command: Any) -> None:
        """A command on ``command/<target>`` that the hub answers (or, for ``stop``, also obeys)."""
        if isinstance(command, StopCommand):
            # Satellites that speak MQTT stop themselves and tell us; this covers stock ones.
            for session in self.hub.targets(target):
                await session.interrupt(InterruptReason.COMMAND)
            return
        if isinstance(command, DriverCommand):
            self._drive(command, target)
            return
        if not isinstance(command, AnnounceCommand | TimerStartCommand | TimerCancelCommand):
            return  # satellite-owned: the satellite answers it
        sessions = self.hub.targets(target)
        if not sessions and target != ALL_SATELLITES and self.hub.registry.driver(target) is SatelliteDriver.HOME_ASSISTANT:
            self._result(command, target, ResultStatus.ERROR, "driven_by_home_assistant",
                         f"{target} is driven by Home Assistant, not the hub: use Home Assistant's own "
                         f"announcements and timers for it, or set its driver to hub")
            return
        if not sessions:
            self._result(command, target, ResultStatus.ERROR, "unknown_satellite",
                         f"no connected satellite {target!r}")
            return
        self._result(command, target, ResultStatus.ACCEPTED)
        if isinstance(command, AnnounceCommand):
            # Done once played, seconds from now: the MQTT loop must not wait for that.
            self.hub.run_transient(self._announce(command, target, [s.id for s in sessions]), f"announce-{command.id}")
            return
        try:
            if isinstance(command, TimerStartCommand):
                for session in sessions:
                    timer = self.hub.timers.start(session.id, command.seconds, command.name)
                    await session.timer_started(timer)
            else:
                for session in sessions:
                    for timer in await self.hub.timers.cancel(session.id, command.timer_id):
                        await session.timer_cancelled(timer)
        except Exception as err:
            _LOGGER.warning("command %s to %s failed: %s", command.command, target, err)
            self._result(command, target, ResultStatus.ERROR, getattr(err, "code", "failed"), str(err))
            return
        self._result(command, target, ResultStatus.DONE)

    async def _announce(self, command: AnnounceCommand, target: str, satellites: list[str]) -> None:
        try:
            problems = await (await self.hub.announce(satellites, command.text)).outcome()
        except Exception as err:
            _LOGGER.warning("announcement to %s failed: %s", target, err)
            self._result(command, target, ResultStatus.ERROR, getattr(err, "code", "failed"), str(err))
            return
        if problems:
            self._result(command, target, ResultStatus.ERROR, "not_played", "; ".join(problems)[:1900])
        else:
            self._result(command, target, ResultStatus.DONE)

    def _drive(self, command: DriverCommand, target: str) -> None:
        if target == ALL_SATELLITES:
            self._result(command, target, ResultStatus.ERROR, "bad_target",
                         "a driver is chosen per satellite: send it to command/<satellite id>")
            return
        self._result(command, target, ResultStatus.ACCEPTED)

        async def switch() -> None:
            outcome = await switch_driver(self.hub, target, SatelliteDriver(command.driver),
                                          take_over=command.take_over)
            self._result(command, target, ResultStatus.DONE if outcome.ok else ResultStatus.ERROR,
                         outcome.code, outcome.message)

        self.hub.run_transient(switch(), f"driver-{command.id}")

    async def hub_command(self, command: Any) -> None:
        if not isinstance(command, LearningCommand):
            return
        hub = self.hub
        if hub.recorder is not None:
            hub.recorder.command(command.action, command.room, command.parameter)
        try:
            decisions = hub.learner.command(command.action, command.room, command.parameter)
        except LearningCommandError as err:
            self._result(command, "hub", ResultStatus.ERROR, err.code, str(err))
            return
        summary = "; ".join(f"{d.action.value} {d.parameter or 'all'} in {d.room or 'every room'}" for d in decisions)
        self._result(command, "hub", ResultStatus.DONE, message=(summary or "nothing to do")[:1900])
