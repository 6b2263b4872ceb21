"""Audio formats on the wire (Wyoming audio events carry raw PCM in these formats)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PcmFormat:
    """Raw little-endian PCM."""

    rate: int
    """Samples per second, Hz."""
    width: int
    """Bytes per sample."""
    channels: int

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.width * self.channels

    def bytes_for_ms(self, ms: float) -> int:
        frame = self.width * self.channels
        return int(self.rate * ms / 1000) * frame

    def duration_ms(self, n_bytes: int) -> float:
        return 1000.0 * n_bytes / self.bytes_per_second


MIC_FORMAT = PcmFormat(rate=16000, width=2, channels=1)
"""What satellites stream to the hub: 16 kHz, 16-bit, mono (what whisper, openwakeword and VAD want)."""

MIC_CHUNK_SAMPLES = 640
"""Samples per microphone chunk on the wire: 40 ms, two chunks per openwakeword frame."""

TTS_FORMAT = PcmFormat(rate=22050, width=2, channels=1)
"""What the hub's piper voice produces; satellites play the rate ``audio-start`` announces."""

TTS_CHUNK_SAMPLES = 2048
"""Samples per TTS audio chunk sent to a satellite (about 93 ms at 22.05 kHz)."""

MAX_TURN_AUDIO_SECONDS = 30.0
"""Longest utterance a turn accepts; the satellite's hard end-of-speech limit is below it."""


def check_format(rate: int, width: int, channels: int, expected: PcmFormat) -> None:
    """Raise ``ValueError`` naming the difference if a chunk is not in ``expected`` format."""
    if (rate, width, channels) != (expected.rate, expected.width, expected.channels):
        raise ValueError(
            f"audio format {rate} Hz/{8 * width}-bit/{channels} ch, expected "
            f"{expected.rate} Hz/{8 * expected.width}-bit/{expected.channels} ch"
        )
