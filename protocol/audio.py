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

    def duration_ms(self, n_bytes: int) -> float:
        return 1000.0 * n_bytes / self.bytes_per_second


MIC_FORMAT = PcmFormat(rate=16000, width=2, channels=1)
"""What satellites stream to the hub: 16 kHz, 16-bit, mono (what whisper, openwakeword and VAD want)."""

MIC_CHUNK_SAMPLES = 1280
"""Samples per microphone chunk on the wire: 80 ms, one openwakeword frame, the satellite's audio block
(its wake word, VAD and echo canceller all work on it, and it streams exactly these blocks)."""

MIC_CHUNK_MS = 1000 * MIC_CHUNK_SAMPLES // MIC_FORMAT.rate
"""One microphone chunk, ms (80)."""

TTS_FORMAT = PcmFormat(rate=22050, width=2, channels=1)
"""What the hub's piper voice produces; satellites play the rate ``audio-start`` announces."""

TTS_CHUNK_SAMPLES = 2048
"""Samples per TTS audio chunk sent to a satellite (about 93 ms at 22.05 kHz)."""

MAX_TURN_AUDIO_SECONDS = 30.0
"""Longest utterance a turn accepts; the satellite's hard end-of-speech limit is below it."""


MIN_RATE = 8000
"""Lowest sample rate accepted from a peer, Hz (telephone audio)."""
MAX_RATE = 48000
"""Highest sample rate accepted from a peer, Hz. With the width and channel limits below this
bounds the bytes any cap in seconds can mean (30 s: at most 5.8 MB) and the cost of resampling
a chunk (a chunk declaring 1 Hz was 6,000x the work of its bytes)."""
WIDTHS = (2,)
"""Bytes per sample we accept: 16-bit PCM, what every Wyoming peer sends."""
MAX_CHANNELS = 2


class AudioFormatError(ValueError):
    """An audio event whose format we refuse. ``code`` is the Wyoming ``error`` code to answer with."""

    code = "bad_audio_format"


def check_audio(rate: object, width: object, channels: object, n_bytes: int = 0, *,
                expected: PcmFormat | None = None, mono: bool = False) -> PcmFormat:
    """The one check for audio from a peer (``audio-start``/``audio-chunk``): the format, or
    :class:`AudioFormatError` naming what is wrong.

    Rates within ``MIN_RATE``..``MAX_RATE``, 16-bit, 1-2 channels, a whole number of sample frames
    in ``n_bytes``; one channel with ``mono`` (speech to transcribe, an answer to play); and exactly
    ``expected`` when given (the microphone stream). :func:`protocol.wyoming_events.audio_event_format`
    applies it to an event.
    """
    if not (isinstance(rate, int) and isinstance(width, int) and isinstance(channels, int)):
        raise AudioFormatError(f"audio rate, width and channels must be integers, got {rate!r}/{width!r}/{channels!r}")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(f"audio rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if width not in WIDTHS:
        raise AudioFormatError(f"audio must be 16-bit (width 2), got width {width}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioFormatError(f"audio must have 1 or {MAX_CHANNELS} channels, got {channels}")
    fmt = PcmFormat(rate, width, channels)
    if n_bytes % (width * channels):
        raise AudioFormatError(f"{n_bytes} bytes is not a whole number of {width * channels}-byte sample frames")
    if mono and channels != 1:
        raise AudioFormatError(f"audio must be mono, got {channels} channels")
    if expected is not None and fmt != expected:
        raise AudioFormatError(
            f"audio must be {expected.rate} Hz, {8 * expected.width}-bit, {expected.channels} channel; got "
            f"{rate} Hz, {8 * width}-bit, {channels} channels")
    return fmt


def max_bytes(fmt: PcmFormat, seconds: float) -> int:
    """A cap in seconds of audio, as bytes of ``fmt`` (bounded, because ``fmt`` passed :func:`check_audio`)."""
    return int(seconds * fmt.bytes_per_second)
