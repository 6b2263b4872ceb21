"""Test speech in several voices, continuous background noise, and long real-time streams.

Voices are piper (the hub's en_US-joe, at different speeds) and espeak-ng variants (accents,
male/female formants, speeds): nothing like one clean studio voice. Every clip is 16 kHz 16-bit
mono with its speech at ``SPEECH_DBFS`` (the level of the active part, not of the padding).

Background noise is continuous and generated to any length: pink noise, babble (several talkers
saying other sentences at once), music-like (chords, a bass line and a beat) and TV-like speech
(one talker at a time, other sentences, short gaps). :func:`build_stream` places utterances into
one long stream with the noise running through all of it, as a microphone in a room hears it:
never digital silence between turns.

Part of the voices and phrases is held out (``HELD_OUT_VOICES``, ``HELD_OUT_COMMANDS``): nothing
in the satellite or hub may be tuned on them; the bench reports them separately.

Renders are cached on disk (``cache_dir``, by default under the system temp folder), keyed by
engine, voice settings and text, so a second run costs nothing.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.pcm import resample_pcm
from protocol.audio import MIC_FORMAT

if TYPE_CHECKING:
    from piper import PiperVoice

RATE = MIC_FORMAT.rate
SPEECH_DBFS = -20.0
"""Active-speech level of every clip (a person about a metre from the microphone)."""
WAKE_PHRASE = "Hey Jarvis"


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str
    """``piper`` or ``espeak``."""
    args: tuple[str, ...] = ()
    """espeak-ng arguments (``-v en+f3 -s 150``)."""
    length_scale: float = 1.0
    """piper: >1 is slower."""


VOICES: dict[str, Voice] = {v.name: v for v in (
    Voice("piper", "piper"),
    Voice("espeak-us", "espeak", ("-v", "en-us", "-s", "165")),
    Voice("espeak-f3", "espeak", ("-v", "en+f3", "-s", "150")),
    Voice("espeak-gb-slow", "espeak", ("-v", "en-gb", "-s", "135")),
    # held out
    Voice("piper-fast", "piper", length_scale=0.8),
    Voice("espeak-us-m7-fast", "espeak", ("-v", "en-us+m7", "-s", "190")),
    Voice("espeak-scotland-f2", "espeak", ("-v", "en-gb-scotland+f2", "-s", "160")),
    Voice("espeak-rp-m3", "espeak", ("-v", "en-gb-x-rp+m3", "-s", "175")),
)}
TUNING_VOICES = ("piper", "espeak-us", "espeak-f3", "espeak-gb-slow")
HELD_OUT_VOICES = ("piper-fast", "espeak-us-m7-fast", "espeak-scotland-f2", "espeak-rp-m3")


@dataclass(frozen=True)
class Command:
    text: str
    intent: str
    """The hub's fast-path intent (``hub.home.intents``) that should answer it."""
    entity: str = ""
    """For a device command: a word the commanded entity's id must contain (``kitchen``)."""
    service: str = ""
    """For a device command: the service it must call (``turn_on``)."""


TUNING_COMMANDS = (
    Command("turn on the kitchen lights", "turn_on", "kitchen", "turn_on"),
    Command("what time is it", "time"),
    Command("set a timer for five minutes", "timer_start"),
    Command("turn off the bedroom lamp", "turn_off", "bedroom", "turn_off"),
    Command("cancel all timers", "timer_cancel"),
    Command("turn the volume up", "volume"),
    Command("what is the date today", "date"),
    Command("switch off the living room lights", "turn_off", "living_room", "turn_off"),
    Command("how much time is left on my timer", "timer_list"),
    Command("set the volume to forty percent", "volume"),
    Command("set the thermostat to twenty one degrees", "climate_set_temperature", "thermostat", "set_temperature"),
    Command("turn on the fan in the office", "turn_on", "fan", "turn_on"),
)
HELD_OUT_COMMANDS = (
    Command("switch on the porch light", "turn_on", "porch", "turn_on"),
    Command("what day is it today", "date"),
    Command("start a timer for ten minutes", "timer_start"),
    Command("turn the garage light off", "turn_off", "garage", "turn_off"),
    Command("make it louder", "volume"),
    Command("stop the timer", "timer_cancel"),
)

TV_SENTENCES = (
    "In tonight's news, the city council voted to extend the tram line to the airport.",
    "Scientists say the new telescope has found water vapour on a distant planet.",
    "And now the weather: rain spreading from the west, clearing by the weekend.",
    "The home team scored twice in the second half and won the final three to one.",
    "Stay with us after the break for an interview with the author of the best selling novel.",
    "Prices at the pump rose again this month, the third increase in a row.",
    "Hey, did you see the match last night? It went to penalties.",
    "Traffic is heavy on the ring road after an accident near the bridge.",
    "The museum opens a new exhibition about ancient Egypt on Friday.",
    "Add two cups of flour, a pinch of salt and stir until the dough is smooth.",
    "The detective looked at the clock, then at the door, and waited.",
    "Jars of homemade jam sold out within an hour at the village market.",
    "Travis and his brother opened a bakery on the corner of Main Street.",
    "Our next guest has sailed around the world twice, alone.",
)
"""Negative speech: television, radio, other people (some with near rhymes of the wake phrase)."""
BABBLE_SENTENCES = (
    "I told her we would be there by eight, but the train was late again.",
    "Could you pass the salt, please? Thanks.",
    "The children are playing in the garden with the dog.",
    "We should paint the hallway a lighter colour next spring.",
    "Did anyone remember to buy milk on the way home?",
    "My phone battery is almost empty, where is the charger?",
    "The meeting moved to Thursday afternoon at three.",
    "That film was much longer than I expected, but I liked the ending.",
)
BABBLE_VOICES = ("espeak-us", "espeak-f3", "espeak-gb-slow", "piper", "espeak-rp-m3")


# -- rendering -------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "hearth-speech-cache"


class Corpus:
    """Renders (and caches) speech; ``say(text, voice)`` gives 16 kHz PCM at ``SPEECH_DBFS``."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._piper: PiperVoice | None = None
        self._lock = threading.Lock()

    def say(self, text: str, voice: str | Voice) -> bytes:
        spec = VOICES[voice] if isinstance(voice, str) else voice
        key = hashlib.sha256(repr((1, spec.engine, spec.args, spec.length_scale, text)).encode()).hexdigest()[:24]
        path = self.cache_dir / f"{key}.pcm"
        if path.exists():
            return path.read_bytes()
        with self._lock:
            pcm = self._espeak(text, spec.args) if spec.engine == "espeak" else self._piper_say(text, spec)
            pcm = at_level(trim(pcm), SPEECH_DBFS)
            partial = path.with_suffix(f".{threading.get_ident()}.partial")
            partial.write_bytes(pcm)
            partial.replace(path)
        return pcm

    def wake_command(self, command: str, voice: str | Voice, *, pause_s: float | None = None) -> bytes:
        """``Hey Jarvis`` and the command: one breath (``pause_s=None``) or two clips with a silent gap."""
        if pause_s is None:
            return self.say(f"{WAKE_PHRASE} {command}.", voice)
        return self.say(f"{WAKE_PHRASE}.", voice) + silence(pause_s) + self.say(f"{command[0].upper()}{command[1:]}.",
                                                                               voice)

    @staticmethod
    def _espeak(text: str, args: tuple[str, ...]) -> bytes:
        with tempfile.NamedTemporaryFile(suffix=".wav") as out:
            subprocess.run(["espeak-ng", *args, "-w", out.name, text], check=True, capture_output=True)
            with wave.open(out.name) as wav:
                rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
        return resample_pcm(pcm, rate, RATE)

    def _piper_say(self, text: str, voice: Voice) -> bytes:
        from piper import PiperVoice, SynthesisConfig

        from common.models import piper_voice_path

        if self._piper is None:
            self._piper = PiperVoice.load(str(piper_voice_path()))
        piper = self._piper
        # No sampling noise: the same text gives the same audio on every machine.
        config = SynthesisConfig(length_scale=voice.length_scale, noise_scale=0.0, noise_w_scale=0.0)
        pcm = b"".join(chunk.audio_int16_bytes for chunk in piper.synthesize(text, syn_config=config))
        return resample_pcm(pcm, int(piper.config.sample_rate), RATE)


# -- levels ----------------------------------------------------------------------------------------
def _frames_db(x: np.ndarray, frame: int = 320) -> np.ndarray:
    n = x.size // frame
    if n == 0:
        return np.array([-120.0])
    power = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    return 10 * np.log10(np.maximum(power, 1e-12) / 32768.0**2)


def active_dbfs(pcm: bytes) -> float:
    """Level of the speech itself: the RMS of the 20 ms frames within 30 dB of the loudest one."""
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    db = _frames_db(x)
    active = db[db > db.max() - 30]
    return float(10 * np.log10(np.mean(10 ** (active / 10))))


def at_level(pcm: bytes, dbfs: float) -> bytes:
    gain = 10 ** ((dbfs - active_dbfs(pcm)) / 20)
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64) * gain
    return np.clip(x, -32768, 32767).astype(np.int16).tobytes()


def trim(pcm: bytes, below_peak_db: float = 45.0, keep_s: float = 0.03) -> bytes:
    """Cut the synthesiser's leading and trailing silence (keeping a few ms)."""
    x = np.frombuffer(pcm, dtype=np.int16)
    db = _frames_db(x.astype(np.float64), 160)
    loud = np.nonzero(db > db.max() - below_peak_db)[0]
    if loud.size == 0:
        return pcm
    keep = int(keep_s * RATE)
    start, end = max(0, loud[0] * 160 - keep), min(x.size, (loud[-1] + 1) * 160 + keep)
    return x[start:end].tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * int(RATE * seconds))


# -- noise -----------------------------------------------------------------------------------------
def pink(seconds: float, seed: int = 0) -> np.ndarray:
    """Pink (1/f) noise, unit RMS, float."""
    n = int(RATE * seconds)
    rng = np.random.default_rng(seed)
    spectrum = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum *= 1 / np.sqrt(np.maximum(f, 20.0))  # flat under 20 Hz instead of a DC blow-up
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x**2))


def _talker_track(corpus: Corpus, sentences: tuple[str, ...], voices: tuple[str, ...], n: int,
                  rng: np.random.Generator, gap_s: tuple[float, float]) -> np.ndarray:
    out = np.zeros(n)
    pos = int(rng.uniform(0, 1.0) * RATE)
    while pos < n:
        clip = np.frombuffer(corpus.say(str(rng.choice(sentences)), str(rng.choice(voices))),
                             dtype=np.int16).astype(np.float64)
        end = min(n, pos + clip.size)
        out[pos:end] += clip[: end - pos]
        pos = end + int(rng.uniform(*gap_s) * RATE)
    return out


def babble(corpus: Corpus, seconds: float, seed: int = 0, talkers: int = 5) -> np.ndarray:
    """Several people talking at once (other sentences, other voices), unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    x = sum((_talker_track(corpus, BABBLE_SENTENCES, BABBLE_VOICES, n, rng, (0.1, 0.6)) for _ in range(talkers)),
            np.zeros(n))
    return x / max(1e-9, np.sqrt(np.mean(x**2)))


def tv(corpus: Corpus, seconds: float, seed: int = 0) -> np.ndarray:
    """One talker at a time, like a television: other sentences in several voices, unit RMS of speech."""
    rng = np.random.default_rng(seed)
    voices = tuple(VOICES)
    x = _talker_track(corpus, TV_SENTENCES, voices, int(RATE * seconds), rng, (0.3, 1.5))
    return x / max(1e-9, np.sqrt(np.mean(x[np.abs(x) > 0] ** 2)))


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Music-like: chords with harmonics and decaying notes, a bass line and a kick drum, unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    t = np.arange(n) / RATE
    x = np.zeros(n)
    beat = int(0.5 * RATE)
    scale = 220.0 * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16]) / 12)
    for start in range(0, n, beat):
        end = min(n, start + 2 * beat)
        tt = t[start:end] - t[start]
        envelope = np.exp(-tt * 3.0)
        for freq in rng.choice(scale, size=3, replace=False):
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                x[start:end] += weight * envelope * np.sin(2 * np.pi * freq * harmonic * tt)
        bass = scale[int(rng.integers(0, 4))] / 4
        x[start:end] += 1.2 * envelope * np.sin(2 * np.pi * bass * tt)
        kick = min(end, start + int(0.12 * RATE))
        kt = t[start:kick] - t[start]
        x[start:kick] += 2.0 * np.exp(-kt * 30) * np.sin(2 * np.pi * (60 + 60 * np.exp(-kt * 40)) * kt)
    return x / np.sqrt(np.mean(x**2))


NOISES = ("pink", "babble", "music")


def noise(kind: str, corpus: Corpus, seconds: float, seed: int = 0) -> np.ndarray:
    if kind == "pink":
        return pink(seconds, seed)
    if kind == "babble":
        return babble(corpus, seconds, seed)
    if kind == "music":
        return music(seconds, seed)
    if kind == "tv":
        return tv(corpus, seconds, seed)
    raise ValueError(f"unknown noise {kind!r}: use one of {', '.join((*NOISES, 'tv'))}")


# -- streams ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    """One utterance in a stream: where it is and what it says."""

    label: str
    start_s: float
    end_s: float
    command: Command | None = None
    voice: str = ""


@dataclass
class Stream:
    pcm: bytes
    placed: list[Placed] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE


QUIET_SNR_DB = 50.0
"""'Quiet' still has a room tone 50 dB under the speech: never digital silence."""


def build_stream(utterances: list[tuple[bytes, Placed]], background: np.ndarray | None, snr_db: float, *,
                 gap_s: float, lead_s: float = 2.0, tail_s: float = 2.0) -> Stream:
    """Utterances ``gap_s`` apart over one continuous background at ``snr_db`` under the speech level.

    ``background`` (unit RMS) is looped if short; ``None`` is pink noise. Each ``Placed`` in the input
    is a template: its times are filled in here.
    """
    total = lead_s + sum(len(pcm) / 2 / RATE + gap_s for pcm, _ in utterances) + tail_s
    n = int(total * RATE)
    if background is None:
        background = pink(min(total, 120.0), seed=7)
    bed = np.resize(background, n) * 32768 * 10 ** ((SPEECH_DBFS - snr_db) / 20)
    out = bed.copy()
    placed: list[Placed] = []
    pos = int(lead_s * RATE)
    for pcm, template in utterances:
        clip = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
        out[pos:pos + clip.size] += clip
        placed.append(Placed(template.label, pos / RATE, (pos + clip.size) / RATE, template.command, template.voice))
        pos += clip.size + int(gap_s * RATE)
    return Stream(np.clip(out, -32768, 32767).astype(np.int16).tobytes(), placed)


def mix_at_snr(speech: bytes, background: np.ndarray, snr_db: float) -> bytes:
    """One clip over a background (looped/cut to its length) ``snr_db`` under the speech level."""
    x = np.frombuffer(speech, dtype=np.int16).astype(np.float64)
    bed = np.resize(background, x.size) * 32768 * 10 ** ((active_dbfs(speech) - snr_db) / 20)
    return np.clip(x + bed, -32768, 32767).astype(np.int16).tobytes()
