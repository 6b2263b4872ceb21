"""Acoustic echo cancellation with the WebRTC audio processing module (aec-audio-processing).

The reference is what the speaker played in the same block (see the audio backends), so
the canceller sees the echo path of the room and the device, and nothing else. Optional
noise suppression and automatic gain run in the same module.
"""

from __future__ import annotations

from protocol.audio import MIC_FORMAT

FRAME_BYTES = MIC_FORMAT.rate // 100 * MIC_FORMAT.width
"""WebRTC works on 10 ms frames."""


class EchoCanceller:
    def __init__(self, *, noise_suppression: bool = False, auto_gain: bool = False, delay_ms: int = 0) -> None:
        from aec_audio_processing import AudioProcessor

        self._ap = AudioProcessor(enable_aec=True, enable_ns=noise_suppression, ns_level=1,
                                  enable_agc=auto_gain, agc_mode=1, enable_vad=False)
        self._ap.set_stream_format(MIC_FORMAT.rate, MIC_FORMAT.channels, MIC_FORMAT.rate, MIC_FORMAT.channels)
        self._ap.set_reverse_stream_format(MIC_FORMAT.rate, MIC_FORMAT.channels)
        self._ap.set_stream_delay(delay_ms)

    def process(self, mic: bytes, played: bytes) -> bytes:
        out = bytearray()
        for start in range(0, len(mic) - FRAME_BYTES + 1, FRAME_BYTES):
            self._ap.process_reverse_stream(played[start:start + FRAME_BYTES])
            out += self._ap.process_stream(mic[start:start + FRAME_BYTES])
        return bytes(out)
