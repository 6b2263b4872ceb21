"""The linear echo canceller on a reverberant room: it removes the echo, keeps the person's voice, and so
lets the real wake model hear "Hey Jarvis" said over our own answer (bench/echo_wake.py measures more)."""

from __future__ import annotations

import numpy as np
import pytest

from satellite.audio.backends import BLOCK_SAMPLES
from satellite.dsp.linear_echo import LinearEchoCanceller
from satellite.dsp.wake import WakeDetector
from satellite.settings import BargeInSettings

RATE = 16000
ANSWER = ("The weather today is mostly sunny with a high of twenty two degrees. A light breeze comes from the west "
          "in the evening. Tomorrow looks a little cooler, with some clouds in the afternoon.")

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def say():
    """say(text) -> int16 samples at 16 kHz from the piper voice (deterministic), without the hub's other models."""
    from common.models import piper_voice_path
    from hub.pipeline.tts import TextToSpeech
    from testbed.audio_fixtures import SpeechMaker

    speech = SpeechMaker(TextToSpeech(piper_voice_path()))
    return lambda text: np.frombuffer(speech(text), dtype=np.int16)


def room_echo(played: np.ndarray, *, distortion: bool = False, seed: int = 0) -> np.ndarray:
    """A living room: 20 ms to the mic, a reverberant tail (RT60 0.25 s), gain 0.5, mic noise at -60 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.4 * RATE)) / RATE
    h = rng.normal(0.0, 1.0, t.size) * np.exp(-6.9078 * t / 0.25)
    h *= 0.6 / np.sqrt(np.sum(h ** 2))
    h[0] = 1.0
    h = np.concatenate((np.zeros(int(0.020 * RATE)), h))
    h *= 0.5 / np.sqrt(np.sum(h ** 2))
    x = played.astype(np.float64)
    if distortion:  # a small loudspeaker at full volume
        x = 0.6 * 32768 * np.tanh(x / (0.6 * 32768))
    size = 1 << int(np.ceil(np.log2(x.size + h.size)))
    echo = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: x.size]
    return echo + rng.normal(0.0, 32768 * 10 ** (-60 / 20), x.size)


def to_pcm(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def cancel(mic: np.ndarray, played: np.ndarray, canceller=None) -> np.ndarray:
    """Run a canceller over 80 ms blocks, as the satellite does."""
    canceller = canceller or LinearEchoCanceller()
    out = [np.frombuffer(canceller.process(mic[i:i + BLOCK_SAMPLES].tobytes(), played[i:i + BLOCK_SAMPLES].tobytes()),
                         dtype=np.int16) for i in range(0, mic.size - BLOCK_SAMPLES + 1, BLOCK_SAMPLES)]
    return np.concatenate(out).astype(np.float64)


def energy_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-9)


def test_removes_a_reverberant_echo_once_converged(say) -> None:
    played = say(ANSWER)
    echo = to_pcm(room_echo(played))
    out = cancel(echo, played)
    later = slice(4 * RATE, out.size)  # after 4 s of answer
    erle = energy_db(echo[later]) - energy_db(out[later])
    assert erle >= 20, f"echo reduced by {erle:.1f} dB"


def test_the_persons_voice_passes_in_double_talk(say) -> None:
    played = say(ANSWER)
    voice = say("Hey Jarvis, what time is it?")
    onset = 5 * RATE
    echo = room_echo(played)
    near = np.zeros(echo.size)
    near[onset:onset + voice.size] = voice * 10 ** (-6 / 20)  # as loud as the echo
    with_voice = cancel(to_pcm(echo + near), played)
    echo_only = cancel(to_pcm(echo), played)
    spoken = slice(onset, onset + voice.size)
    # What the canceller let through of the voice: its output with the voice minus its output without.
    kept = energy_db(with_voice[spoken] - echo_only[spoken]) - energy_db(near[spoken])
    assert abs(kept) <= 1.0, f"voice level changed by {kept:+.1f} dB"
    # Talking over the answer did not spoil the filter: the echo after the voice is still removed.
    after = slice(onset + voice.size + RATE // 2, with_voice.size)
    erle_after = energy_db(echo[after]) - energy_db(with_voice[after])
    assert erle_after >= 15, f"echo after double talk reduced by only {erle_after:.1f} dB"


def best_wake_score(audio: np.ndarray) -> tuple[float, bool]:
    """The satellite's wake detector during playback: every block scored, the barge-in threshold."""
    threshold = BargeInSettings().wake_threshold
    wake = WakeDetector("hey_jarvis", threshold, refractory_s=2.0)
    samples = to_pcm(audio)
    fired = False
    for i in range(0, samples.size - BLOCK_SAMPLES + 1, BLOCK_SAMPLES):
        block = samples[i:i + BLOCK_SAMPLES].tobytes()
        fired |= wake.process(block, i / RATE, speech=False, gate=False, threshold=threshold) is not None
    return wake.best_score, fired


def test_wake_word_over_our_answer_is_heard_after_cancellation(say) -> None:
    played = say(ANSWER)
    voice = say("Hey Jarvis.")
    onset = 4 * RATE
    near = np.zeros(played.size)
    near[onset:onset + voice.size] = voice * 10 ** (-9 / 20)  # a little quieter than our echo
    mic = to_pcm(room_echo(played, distortion=True) + near)
    end = onset + voice.size + RATE
    raw_score, raw_fired = best_wake_score(mic[:end])
    clean_score, clean_fired = best_wake_score(cancel(mic[:end], played[:end]))
    assert not raw_fired and raw_score < 0.5, f"without cancellation: {raw_score:.2f}"
    assert clean_fired, f"after cancellation: {clean_score:.2f}"


def test_an_answer_that_starts_with_the_wake_word_does_not_wake_us(say) -> None:
    """A fresh canceller (just after start) has learnt nothing yet: it mutes the echo until it has."""
    played = say("Hey Jarvis is what you call me. It is twelve degrees and cloudy outside.")
    mic = to_pcm(played * 0.5)  # the file backend's echo: no noise at all to hide a faint residue
    score, fired = best_wake_score(cancel(mic, played))
    assert not fired and score < 0.3, f"our own answer scored {score:.2f}"


def test_blocks_of_any_size_give_the_same_output() -> None:
    rng = np.random.default_rng(1)
    played = to_pcm(rng.normal(0, 3000, RATE * 2))
    mic = to_pcm(room_echo(played))
    whole = cancel(mic, played)
    canceller, pieces = LinearEchoCanceller(), []
    for i in range(0, mic.size, 1000):  # not a multiple of the 256-sample frame
        pieces.append(np.frombuffer(canceller.process(mic[i:i + 1000].tobytes(), played[i:i + 1000].tobytes()),
                                    dtype=np.int16))
    joined = np.concatenate(pieces)
    assert joined.size == whole.size and np.array_equal(joined, whole)
