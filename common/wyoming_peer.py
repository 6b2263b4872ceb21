"""One Wyoming connection, either side: bounded reads, writes that never block on a slow peer.

Reads go through :func:`protocol.framing.read_frame` (size limits, clear error codes).
Writes go straight to the transport without ``drain()``: a peer that stops reading must
not stall the turn that writes to it. Once the unsent backlog passes ``max_backlog`` bytes,
audio chunks are dropped (counted, logged once per burst) while control events still go
out, so memory stays bounded and the other rooms are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.event import Event

from protocol.framing import FrameError, encode_frame, read_frame

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_BACKLOG = 2 * 1024 * 1024
"""About 45 s of 22 kHz TTS audio."""


class WyomingPeer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, label: str,
                 *, max_backlog: int = DEFAULT_MAX_BACKLOG) -> None:
        self.reader = reader
        self.writer = writer
        self.label = label
        self.max_backlog = max_backlog
        self.audio_dropped = 0
        self._dropping = False

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    async def read(self) -> Event | None:
        """The next event; None when the peer has gone or sent a frame that cannot be read.

        A bad frame is answered with an ``error`` event naming the problem and logged; the
        connection is then closed, because the byte stream cannot be re-aligned after it.
        """
        try:
            return await read_frame(self.reader)
        except FrameError as err:
            _LOGGER.warning("%s: bad Wyoming frame (%s): %s; closing", self.label, err.code, err)
            await self.send(Error(text=str(err), code=err.code).event())
            await self.close()
            return None
        except (ConnectionError, OSError) as err:
            _LOGGER.info("%s: connection lost: %s", self.label, err)
            return None

    async def send(self, event: Event) -> None:
        if self.writer.is_closing():
            raise ConnectionResetError(f"{self.label}: connection closed")
        backlog = self.writer.transport.get_write_buffer_size()
        if backlog > self.max_backlog and AudioChunk.is_type(event.type):
            self.audio_dropped += 1
            if not self._dropping:
                self._dropping = True
                _LOGGER.warning("%s: peer is not reading (%d bytes queued); dropping audio", self.label, backlog)
            return
        self._dropping = False
        self.writer.write(encode_frame(event))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
