"""Our hub's control extension over Wyoming (``set-volume``, ``set-mute``, ``tune``, ``listen``;
protocol/wyoming_events.py).

The first three are what the MQTT commands do, so a house without MQTT still has them; ``listen`` opens
the microphone once the answer has played (after the hub asked the person to repeat). A bad value is
refused with a Wyoming ``error`` (code ``bad_control``), never applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from wyoming.error import Error
from wyoming.event import Event

from common.log_limit import LogLimiter
from protocol.wyoming_events import Listen, SetMute, SetVolume, Tune

_LOGGER = logging.getLogger(__name__)
_LOG = LogLimiter(_LOGGER)


class Controllable(Protocol):
    """What the control events act on (:class:`satellite.core.SatelliteCore`)."""

    def set_volume(self, volume: int) -> None: ...

    def set_muted(self, muted: bool) -> None: ...

    def tune(self, wake_threshold: float | None, end_of_speech_silence_ms: int | None) -> None: ...

    def listen_after_playback(self) -> None: ...


def is_control(event_type: str) -> bool:
    return (SetVolume.is_type(event_type) or SetMute.is_type(event_type) or Tune.is_type(event_type)
            or Listen.is_type(event_type))


def apply_control(event: Event, target: Controllable, send_soon: Callable[[Event], None]) -> None:
    """Apply one control event to ``target``; a bad value is answered with an ``error``."""
    try:
        if SetVolume.is_type(event.type):
            target.set_volume(SetVolume.from_event(event).volume)
        elif SetMute.is_type(event.type):
            target.set_muted(SetMute.from_event(event).muted)
        elif Listen.is_type(event.type):
            target.listen_after_playback()
        else:
            tune = Tune.from_event(event)
            target.tune(tune.wake_threshold, tune.end_of_speech_silence_ms)
    except ValueError as err:
        _LOG.warning("bad control", "refused %s from the hub: %s", event.type, err)
        send_soon(Error(text=f"{event.type}: {err}", code="bad_control").event())
