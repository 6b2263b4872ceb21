"""The hub's answer audio: checked, resampled to the player's rate, played; dropped after an interrupt.

After a barge-in or the hub's ``interrupt`` whatever the hub already sent of the old answer must not
play: :attr:`AnswerPlayback.discarding` holds until the next answer's ``audio-start``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from wyoming.error import Error
from wyoming.event import Event

from common.log_limit import LogLimiter
from common.pcm import resample_pcm
from protocol.audio import MIC_FORMAT, AudioFormatError
from protocol.wyoming_events import audio_event_format
from satellite.audio.player import Player

_LOGGER = logging.getLogger(__name__)

OFF_LOOP_RESAMPLE_BYTES = 64 * 1024
"""Answer chunks bigger than this are resampled in a thread (a TTS chunk is about 4 KiB)."""


class AnswerPlayback:
    def __init__(self, player: Player, send: Callable[[Event], Awaitable[None]]) -> None:
        self.player = player
        self._send = send
        self.discarding = False
        self._log = LogLimiter(_LOGGER)

    def begin(self) -> None:
        """``audio-start``: a new answer; nothing of an interrupted one is left to drop."""
        self.discarding = False
        self.player.begin()

    async def add(self, event: Event, playing: Callable[[], bool]) -> None:
        """One ``audio-chunk`` of the answer, while ``playing()`` (the satellite is in its playing phase)."""
        if self.discarding or not playing():
            return
        audio = event.payload or b""
        try:
            fmt = audio_event_format(event, mono=True)
        except AudioFormatError as err:
            self._log.warning("bad audio", "refused answer audio: %s", err)
            await self._send(Error(text=str(err), code=err.code).event())
            return
        if fmt.rate != MIC_FORMAT.rate and len(audio) > OFF_LOOP_RESAMPLE_BYTES:
            # A big chunk takes a while to resample (1 MiB at 8 kHz: 250 ms on a PC), and this loop also runs
            # the microphone: resample in a thread, then add it unless the answer was interrupted meanwhile
            # (chunks stay in order: this connection waits for it).
            audio = await asyncio.to_thread(resample_pcm, audio, fmt.rate, MIC_FORMAT.rate)
            if self.discarding or not playing():
                return
            fmt = MIC_FORMAT
        self.player.add(audio, fmt.rate)

    def end(self, on_played: Callable[[], None]) -> None:
        """``audio-stop``: ``on_played`` runs on the event loop once the last sample has played."""
        if self.discarding:
            return
        loop = asyncio.get_running_loop()

        def drained() -> None:  # runs in the audio thread
            loop.call_soon_threadsafe(on_played)

        self.player.end(on_drained=drained)

    def stop(self, *, discard: bool = True) -> None:
        """Silence now; with ``discard`` what is still on its way from the hub is dropped too."""
        self.player.stop()
        if discard:
            self.discarding = True
