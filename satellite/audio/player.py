"""What the speaker is about to play, block by block, shared by every audio backend.

The audio device (or the file backend's virtual clock) *pulls* one block per microphone
block, in the same callback, so each microphone block comes with exactly the samples that
were played alongside it: that is the echo canceller's reference. ``stop()`` empties the
buffer at once, which is how barge-in silences the speaker within one block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from common.pcm import apply_gain, resample_pcm
from protocol.audio import MIC_FORMAT


class Player:
    """Thread-safe playback buffer at the microphone's format (16 kHz, 16-bit, mono)."""

    def __init__(self, volume: int = 100) -> None:
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._stream_open = False
        self._on_drained: Callable[[], None] | None = None
        self.volume = volume
        self.played_bytes = 0

    @property
    def playing(self) -> bool:
        with self._lock:
            return bool(self._buffer) or self._stream_open

    @property
    def pending_ms(self) -> float:
        with self._lock:
            return MIC_FORMAT.duration_ms(len(self._buffer))

    def begin(self) -> None:
        """A stream of answer audio starts (more chunks follow until :meth:`end`)."""
        with self._lock:
            self._stream_open = True
            self._on_drained = None

    def add(self, pcm: bytes, rate: int) -> None:
        audio = resample_pcm(pcm, rate, MIC_FORMAT.rate)
        with self._lock:
            self._buffer += audio

    def end(self, on_drained: Callable[[], None] | None = None) -> None:
        """No more chunks; ``on_drained`` runs (in the audio thread) once the last sample was played."""
        with self._lock:
            self._stream_open = False
            if self._buffer:
                self._on_drained = on_drained
                return
        if on_drained is not None:
            on_drained()

    def play_now(self, pcm16k: bytes) -> None:
        """A short sound (feedback), played after whatever is queued."""
        with self._lock:
            self._buffer += pcm16k

    def stop(self) -> int:
        """Silence at once; returns how many bytes were discarded."""
        with self._lock:
            dropped = len(self._buffer)
            self._buffer.clear()
            self._stream_open = False
            self._on_drained = None
            return dropped

    def pull(self, n_bytes: int) -> bytes:
        """The next ``n_bytes`` to play (silence-padded); called once per block by the device."""
        callback = None
        with self._lock:
            block = bytes(self._buffer[:n_bytes])
            del self._buffer[:n_bytes]
            if not self._buffer and not self._stream_open and self._on_drained is not None:
                callback, self._on_drained = self._on_drained, None
        self.played_bytes += len(block)
        if len(block) < n_bytes:
            block += bytes(n_bytes - len(block))
        if self.volume != 100:
            block = apply_gain(block, self.volume / 100)
        if callback is not None:
            callback()
        return block
