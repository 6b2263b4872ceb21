"""The fast tier's rig: the real hub on fake models (testbed/fakes.py), driving simulated satellites.

Everything but the three models is real: the hub's composition root, event bus, sessions, turns, state
machine, learner and recorder, and a Wyoming connection over a real socket to a :class:`SimSatellite`
that streams real speech (espeak-ng, rendered once and cached) as fast as the socket takes it. MQTT is
off (a turn does not need it), so no broker is started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.events import ConversationEvent, EventKind
from hub.loaded_models import Models
from hub.settings import HubSettings
from testbed.simsat import SimSatellite
from testbed.speech_corpus import Corpus

VOICE = "espeak-us"
"""espeak-ng: a real voice the hub's VAD hears as speech, rendered in milliseconds without a model."""


class Speech:
    """speech(text) -> 16 kHz 16-bit mono PCM of ``text`` said by espeak-ng (cached on disk)."""

    def __init__(self) -> None:
        self._corpus = Corpus()

    def __call__(self, text: str) -> bytes:
        return self._corpus.say(text, VOICE)


@contextlib.asynccontextmanager
async def fast_hub(tmp_path: Path, models: Models, satellites: list[SimSatellite],
                   **conversation: Any) -> AsyncIterator[Hub]:
    """A started hub (MQTT off, Wyoming service on a free port) connected to ``satellites``."""
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [s.uri for s in satellites],
        "mqtt": {"enabled": False}, "wyoming": {"port": 0}, "conversation": conversation,
    })
    hub = Hub(settings, models)
    await hub.start()
    try:
        for satellite in satellites:
            await asyncio.wait_for(satellite.running.wait(), 10)
        yield hub
    finally:
        await hub.close()


async def say(satellite: SimSatellite, pcm: bytes, **kwargs: Any) -> None:
    """Wake the satellite and stream ``pcm`` (then silence) at full socket speed, not in real time."""
    await satellite.say(pcm, realtime=0, **kwargs)


async def turn_ended(recorder: EventRecorder, satellite: SimSatellite, pcm: bytes,
                     timeout: float = 10.0) -> ConversationEvent:
    """Say ``pcm`` and return the TURN_ENDED event of the turn it opened."""
    seen = len(recorder.events)
    await say(satellite, pcm)
    return await recorder.wait_for(
        lambda e: e.kind is EventKind.TURN_ENDED and e.satellite == satellite.name
        and recorder.events.index(e) >= seen, timeout)


def field(event: ConversationEvent, name: str) -> Any:
    """One field of an event's typed payload (the kind was checked by whoever found the event)."""
    return getattr(event.data, name)


def phases(hub: Hub, satellite: str) -> list[str]:
    """The state machine's phases for ``satellite``, in order, as a person watching the light ring sees them."""
    return [str(t.after) for t in hub.states.transitions if t.satellite == satellite]


def kinds(recorder: EventRecorder, satellite: str, turn_id: str | None = None) -> list[EventKind]:
    return [e.kind for e in recorder.events if e.satellite == satellite and (turn_id is None or e.turn_id == turn_id)]


def first(recorder: EventRecorder, kind: EventKind, where: Callable[[ConversationEvent], bool] = lambda e: True
          ) -> ConversationEvent:
    return next(e for e in recorder.events if e.kind is kind and where(e))
