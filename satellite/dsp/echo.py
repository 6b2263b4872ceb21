"""Microphone clean-up around our own playback: what an echo canceller is, WebRTC's, and noise/gain.

Two echo cancellers share one interface: :class:`satellite.dsp.linear_echo.LinearEchoCanceller`
(the default: it keeps the person's voice in double talk) and :class:`WebRtcEchoCanceller` (AEC3
from the WebRTC audio processing module, ``aec-audio-processing``: more echo removed, and much of
the voice with it). Both get the reference signal, what the speaker played in the same block (see
the audio backends), so they see the echo path of the room and the device, and nothing else.

Noise suppression and automatic gain are a separate stage, :class:`MicCleanup`, that runs on every
block when enabled, whether or not anything plays.
"""

from __future__ import annotations

from typing import Any, Protocol

from protocol.audio import MIC_FORMAT

FRAME_BYTES = MIC_FORMAT.rate // 100 * MIC_FORMAT.width
"""WebRTC works on 10 ms frames."""


class EchoCanceller(Protocol):
    def process(self, mic: bytes, played: bytes) -> bytes:
        """``mic`` with the echo of ``played`` (the same samples' playback) removed."""
        ...


def _webrtc(*, echo: bool, noise_suppression: bool = False, auto_gain: bool = False) -> Any:
    from aec_audio_processing import AudioProcessor

    processor = AudioProcessor(enable_aec=echo, enable_ns=noise_suppression, ns_level=1,
                               enable_agc=auto_gain, agc_mode=1, enable_vad=False)
    processor.set_stream_format(MIC_FORMAT.rate, MIC_FORMAT.channels, MIC_FORMAT.rate, MIC_FORMAT.channels)
    processor.set_reverse_stream_format(MIC_FORMAT.rate, MIC_FORMAT.channels)
    return processor


def _frames(pcm: bytes) -> range:
    """Start offsets of the whole 10 ms frames in ``pcm`` (a remainder is dropped, as the blocks are 80 ms)."""
    return range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)


class WebRtcEchoCanceller:
    def __init__(self, *, delay_ms: int = 0) -> None:
        self._ap = _webrtc(echo=True)
        self._ap.set_stream_delay(delay_ms)

    def process(self, mic: bytes, played: bytes) -> bytes:
        out = bytearray()
        for start in _frames(mic):
            self._ap.process_reverse_stream(played[start:start + FRAME_BYTES])
            out += self._ap.process_stream(mic[start:start + FRAME_BYTES])
        return bytes(out)


class MicCleanup:
    """WebRTC noise suppression and/or automatic gain control on the microphone."""

    def __init__(self, *, noise_suppression: bool, auto_gain: bool) -> None:
        self._ap = _webrtc(echo=False, noise_suppression=noise_suppression, auto_gain=auto_gain)

    def process(self, mic: bytes) -> bytes:
        return b"".join(self._ap.process_stream(mic[start:start + FRAME_BYTES]) for start in _frames(mic))
