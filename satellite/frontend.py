"""The microphone front end: each 80 ms block echo-cancelled, cleaned up, judged speech or not, and kept.

Whatever the phase, every block passes here first: the echo canceller and the VAD need an unbroken
stream, and the last blocks are kept so a stream to the hub can start before the moment it was decided
on (the wake model fires late in the phrase; speech barge-in is decided after 300 ms of speech).
"""

from __future__ import annotations

import collections

from protocol.audio import MIC_CHUNK_MS
from satellite.audio.backends import AudioBlock
from satellite.dsp.echo import EchoCanceller, MicCleanup
from satellite.dsp.vad import SpeechDetector

ECHO_TAIL_BLOCKS = 25
"""Keep cancelling echo this many 80 ms blocks after playback stops (the room's echo tail, 2 s)."""
BLOCK_MS = MIC_CHUNK_MS
"""One audio block (the wake model's frame), ms."""


class MicFrontEnd:
    def __init__(self, vad: SpeechDetector, echo: EchoCanceller | None, cleanup: MicCleanup | None, *,
                 keep_blocks: int) -> None:
        self.vad = vad
        self.echo = echo
        self.cleanup = cleanup
        self._echo_tail_blocks = 0
        self._recent: collections.deque[bytes] = collections.deque(maxlen=keep_blocks)

    def hear(self, block: AudioBlock) -> tuple[bytes, bool]:
        """The block's cleaned-up microphone audio, and whether it holds speech."""
        audio = self._cancel_echo(block)
        if self.cleanup is not None:
            audio = self.cleanup.process(audio)
        speech = self.vad.is_speech(audio)
        self._recent.append(audio)
        return audio, speech

    def recent(self, blocks: int) -> list[bytes]:
        """The last ``blocks`` cleaned-up blocks (fewer if not yet heard), oldest first, the newest included."""
        return list(self._recent)[-blocks:] if blocks > 0 else []

    def _cancel_echo(self, block: AudioBlock) -> bytes:
        """AEC while something plays and for the echo tail after; idle rooms skip it."""
        if self.echo is None:
            return block.mic
        if block.played.count(0) != len(block.played):
            self._echo_tail_blocks = ECHO_TAIL_BLOCKS
        elif self._echo_tail_blocks == 0:
            return block.mic
        else:
            self._echo_tail_blocks -= 1
        return self.echo.process(block.mic, block.played)
