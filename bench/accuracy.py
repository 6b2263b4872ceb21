"""Accuracy: the hub's speech recognition (word error rate) and the satellite's wake word (hits, false alarms).

STT: ``hub.pipeline.stt.SpeechToText`` (whisper tiny.en, int8, as the hub loads it) on 40 house-style
sentences spoken by two voices: piper (en_US-joe, the hub's own TTS) and espeak-ng (a robotic
formant voice, nothing like the training data). Each clip is heard clean, with white noise at
10 and 5 dB SNR, and at a different level (-25 dB: a far, quiet talker; +12 dB: clipped).
WER = word-level edit distance / reference words, after lower-casing, dropping punctuation and
spelling digits out ("10" -> "ten").

Wake word: ``satellite.dsp.wake.WakeDetector`` (hey_jarvis, the satellite's default threshold)
gated by the satellite's VAD exactly as the satellite runs it, fed 80 ms blocks. Positives:
three "Hey Jarvis ..." phrases in piper and three espeak-ng voices, clean / 10 dB / 5 dB SNR /
-20 dB level. Negatives: every STT sentence in both voices, near misses ("Hey Travis", ...),
and five minutes of noise; false alarms are counted per clip and per hour of negative audio.

    .venv/bin/python -m bench.accuracy
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import statistics
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench.results import load_note, write_result
from common import models
from common.pcm import level_dbfs, resample_pcm
from hub.pipeline.stt import SpeechToText
from hub.pipeline.tts import TextToSpeech
from hub.settings import HubSettings
from protocol.audio import MIC_FORMAT
from satellite.dsp.vad import speech_detector
from satellite.dsp.wake import WakeDetector
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import SpeechMaker, scale, silence

SENTENCES = [
    "What time is it?",
    "Set a timer for ten minutes.",
    "Turn on the kitchen lights.",
    "Turn off the lights in the bedroom.",
    "What is the weather like tomorrow?",
    "Play some relaxing music.",
    "How many days until Christmas?",
    "Remind me to call my mother at six.",
    "What is the capital of France?",
    "Set the thermostat to twenty one degrees.",
    "Cancel all my timers.",
    "Tell me a joke.",
    "How long do I boil an egg?",
    "Add milk and bread to the shopping list.",
    "Is the front door locked?",
    "Open the garage door.",
    "What day is it today?",
    "Turn the volume down.",
    "Who wrote the book Pride and Prejudice?",
    "How far away is the moon?",
    "Dim the living room lights to fifty percent.",
    "Stop the music.",
    "What is on my calendar this afternoon?",
    "Wake me up at seven tomorrow morning.",
    "How do you spell necessary?",
    "Start the vacuum cleaner.",
    "What is twelve times eight?",
    "Close the blinds in the office.",
    "When does the sun set today?",
    "Good night.",
    "Lock the back door please.",
    "How much time is left on my timer?",
    "Convert three cups to milliliters.",
    "Turn on the fan in the bathroom.",
    "What is the temperature in the garden?",
    "Tell me about the history of Rome.",
    "Mute the microphone.",
    "Set an alarm for half past eight.",
    "Which planet is the largest?",
    "Thank you, that is all.",
]
WAKE_PHRASES = ["Hey Jarvis.", "Hey Jarvis, what time is it?", "Hey Jarvis, turn on the lights."]
NEAR_MISSES = ["Hey Travis, what's up?", "Hey, Charles.", "Jars of jam are on the shelf.", "Harvest is over.",
               "Hey, are you there?", "Jarvis Cocker sang in a band.", "Service please.", "Hey Siri."]
ESPEAK_VOICES = {"espeak en-us": ["-v", "en-us"], "espeak en+f3": ["-v", "en+f3"],
                 "espeak en-gb slow": ["-v", "en-gb", "-s", "140"]}
BLOCK = 1280 * MIC_FORMAT.width


# -- audio ---------------------------------------------------------------------------------------
def espeak(text: str, args: list[str]) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(["espeak-ng", *args, "-w", out.name, text], check=True, capture_output=True)
        with wave.open(out.name) as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    return at_speaking_level(resample_pcm(pcm, rate, MIC_FORMAT.rate))


def at_speaking_level(pcm: bytes, dbfs: float = -20.0) -> bytes:
    """Both voices at the same RMS level."""
    return scale(pcm, dbfs - level_dbfs(pcm))


def white_noise(samples: int, level_dbfs_: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 32768 * 10 ** (level_dbfs_ / 20), samples)


def with_snr(pcm: bytes, snr_db: float, seed: int) -> bytes:
    speech = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    loud = speech[np.abs(speech) > 32768 * 10 ** (-45 / 20)]  # speech power, not the padding
    power_db = 10 * np.log10(np.mean(loud**2) / 32768**2) if loud.size else -60.0
    noisy = speech + white_noise(speech.size, power_db - snr_db, seed)
    return np.clip(noisy, -32768, 32767).astype(np.int16).tobytes()


def conditions(stt: bool) -> dict[str, Callable[[bytes, int], bytes]]:
    chosen: dict[str, Callable[[bytes, int], bytes]] = {
        "clean": lambda pcm, seed: pcm,
        "noise 10 dB SNR": lambda pcm, seed: with_snr(pcm, 10, seed),
        "noise 5 dB SNR": lambda pcm, seed: with_snr(pcm, 5, seed),
    }
    if stt:
        chosen["level -25 dB (far)"] = lambda pcm, seed: scale(pcm, -25)
        chosen["level +12 dB (clipped)"] = lambda pcm, seed: scale(pcm, 12)
    else:
        chosen["level -20 dB (far)"] = lambda pcm, seed: scale(pcm, -20)
    return chosen


# -- word error rate -----------------------------------------------------------------------------
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def spell(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell(n % 100))
    return " ".join(_ONES[int(d)] for d in str(n))


def normalise(text: str) -> list[str]:
    text = text.lower().replace("%", " percent").replace("-", " ")
    text = re.sub(r"(\d+):(\d\d)", lambda m: f"{m.group(1)} {m.group(2)}", text)
    text = re.sub(r"\d+", lambda m: " " + spell(int(m.group())) + " ", text)
    text = re.sub(r"[^a-z' ]", " ", text)
    return text.split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


@dataclass
class WerCell:
    errors: int = 0
    words: int = 0
    exact: int = 0
    clips: int = 0
    worst: list[tuple[float, str, str]] = field(default_factory=list)

    def add(self, reference: str, heard: str) -> None:
        ref, hyp = normalise(reference), normalise(heard)
        errors = edit_distance(ref, hyp)
        self.errors += errors
        self.words += len(ref)
        self.clips += 1
        self.exact += errors == 0
        self.worst.append((errors / max(1, len(ref)), reference, heard))

    @property
    def wer(self) -> float:
        return self.errors / max(1, self.words)


# -- wake word -----------------------------------------------------------------------------------
class WakeRunner:
    """The satellite's wake path: VAD gate + openwakeword, 80 ms blocks, the satellite's settings."""

    def __init__(self) -> None:
        settings = SatelliteSettings()
        self.threshold = settings.wake.threshold
        self.detector = WakeDetector(settings.wake.model, settings.wake.threshold, settings.wake.refractory_s,
                                     gated=settings.wake.vad_gate, phases=settings.wake.phases)
        self.vad = speech_detector(settings.vad.engine, settings.vad.threshold, settings.vad.aggressiveness,
                                   noise_margin_db=settings.vad.noise_margin_db,
                                   noise_window_s=settings.vad.noise_window_s)
        self.t = 0.0

    def hits(self, pcm: bytes) -> int:
        """Detections in one clip (the detector starts fresh for each clip)."""
        self.detector.reset()
        self.t += 10.0  # past the refractory time of the last clip
        count = 0
        for start in range(0, len(pcm), BLOCK):
            block = pcm[start:start + BLOCK]
            block += bytes(BLOCK - len(block))
            self.t += 0.08
            if self.detector.process(block, self.t, self.vad.is_speech(block)) is not None:
                count += 1
        return count


# -- the run -------------------------------------------------------------------------------------
async def transcribe_all(stt: SpeechToText, clips: list[tuple[str, str, str, bytes]],
                         table: dict[tuple[str, str], WerCell]) -> float:
    compute = []
    for voice, condition, text, pcm in clips:
        result = await stt.transcribe(pcm, "bench")
        compute.append(result.compute_ms)
        table.setdefault((voice, condition), WerCell()).add(text, result.text)
    return statistics.median(compute)


def run(sentences: int) -> str:
    load_before = os.getloadavg()
    started = time.monotonic()
    model_settings = HubSettings().models
    stt = SpeechToText(models.whisper_model_dir(model_settings.stt, model_settings.cache_dir),
                       threads=model_settings.stt_threads)
    speech = SpeechMaker(TextToSpeech(models.piper_voice_path()))
    pad = silence(0.3)

    def voices(text: str) -> dict[str, bytes]:
        return {"piper": pad + at_speaking_level(speech(text)) + pad, "espeak-ng": pad + espeak(text, ESPEAK_VOICES["espeak en-us"]) + pad}

    # STT
    stt_conditions = conditions(stt=True)
    clips = []
    for index, text in enumerate(SENTENCES[:sentences]):
        for voice, pcm in voices(text).items():
            for condition, transform in stt_conditions.items():
                clips.append((voice, condition, text, transform(pcm, index)))
    table: dict[tuple[str, str], WerCell] = {}
    compute_ms = asyncio.run(transcribe_all(stt, clips, table))
    stt_s = time.monotonic() - started

    # wake word
    runner = WakeRunner()
    wake_conditions = conditions(stt=False)
    positives: dict[tuple[str, str], list[int]] = {}
    for index, phrase in enumerate(WAKE_PHRASES):
        renders = {"piper": at_speaking_level(speech(phrase))} | {name: espeak(phrase, args) for name, args in ESPEAK_VOICES.items()}
        for voice, pcm in renders.items():
            for condition, transform in wake_conditions.items():
                clip = transform(silence(1.0) + pcm + silence(1.0), index)
                positives.setdefault((voice, condition), []).append(runner.hits(clip))
    negatives: dict[str, tuple[int, int, float]] = {}  # kind -> (clips, clips with a false alarm, seconds)

    woke_on: list[str] = []

    def negative(kind: str, pcm: bytes, text: str = "") -> None:
        clips_, alarms, seconds = negatives.get(kind, (0, 0, 0.0))
        alarm = runner.hits(pcm) > 0
        if alarm:
            woke_on.append(f"\"{text}\" ({kind})" if text else kind)
        negatives[kind] = (clips_ + 1, alarms + alarm, seconds + MIC_FORMAT.duration_ms(len(pcm)) / 1000)

    for index, text in enumerate(SENTENCES[:sentences]):
        for voice, pcm in voices(text).items():
            negative(f"house sentences ({voice}), clean", pcm, text)
            negative(f"house sentences ({voice}), 10 dB SNR", with_snr(pcm, 10, index), text)
    for text in NEAR_MISSES:
        for voice, pcm in voices(text).items():
            negative(f"near misses ({voice})", pcm, text)
    for minute in range(5):
        level = (-50, -40, -30, -20, -12)[minute % 5]
        noise = np.clip(white_noise(MIC_FORMAT.rate * 60, level, 100 + minute), -32768, 32767).astype(np.int16)
        negative("white noise, -50 to -12 dBFS, 1-min clips", noise.tobytes())
    load_after = os.getloadavg()

    # tables
    voices_seen = sorted({v for v, _ in table})
    lines = ["### Speech recognition (whisper tiny.en, int8): word error rate", "",
             "| condition | " + " | ".join(f"{v} WER | {v} exact" for v in voices_seen) + " |",
             "|---|" + "---|---|" * len(voices_seen)]
    for condition in stt_conditions:
        cells = [table[(v, condition)] for v in voices_seen]
        lines.append(f"| {condition} | " + " | ".join(f"{c.wer:.1%} | {c.exact}/{c.clips}" for c in cells) + " |")
    overall = {v: sum(table[(v, c)].errors for c in stt_conditions) / sum(table[(v, c)].words for c in stt_conditions)
               for v in voices_seen}
    worst = sorted((w for cell in table.values() for w in cell.worst), reverse=True)[:5]
    lines += ["", "Overall: " + ", ".join(f"{v} {w:.1%}" for v, w in overall.items())
              + f"; median compute {compute_ms:.0f} ms per clip. Worst clips (reference -> heard):", ""]
    lines += [f"- {rate:.0%}: \"{ref}\" -> \"{heard}\"" for rate, ref, heard in worst]
    lines += ["", f"### Wake word (hey_jarvis, threshold {runner.threshold}, VAD-gated as on the satellite)", "",
              "| voice | " + " | ".join(wake_conditions) + " |", "|---|" + "---|" * len(wake_conditions)]
    total_hits = total_pos = 0
    for voice in ["piper", *ESPEAK_VOICES]:
        hits: list[str] = []
        for condition in wake_conditions:
            found = positives[(voice, condition)]
            hit = sum(1 for h in found if h > 0)
            total_hits, total_pos = total_hits + hit, total_pos + len(found)
            hits.append(f"{hit}/{len(found)}")
        lines.append(f"| {voice} | " + " | ".join(hits) + " |")
    lines += ["", f"Hit rate {total_hits}/{total_pos} ({total_hits / total_pos:.0%}) over the three phrases "
              f"({', '.join(repr(p) for p in WAKE_PHRASES)}).", "",
              "| negatives | clips | clips with a false alarm | audio | false alarms per hour |", "|---|---|---|---|---|"]
    all_alarms = all_seconds = 0.0
    for kind, (count, alarms, seconds) in negatives.items():
        all_alarms, all_seconds = all_alarms + alarms, all_seconds + seconds
        lines.append(f"| {kind} | {count} | {alarms} | {seconds / 60:.1f} min | {3600 * alarms / seconds:.1f} |")
    lines += [
        "", f"All negatives: {int(all_alarms)} false alarms in {all_seconds / 60:.1f} min of audio "
        f"({3600 * all_alarms / all_seconds:.1f} per hour)"
        + (": woke on " + "; ".join(woke_on) + "." if woke_on else "."),
        "",
        f"{len(clips)} STT clips ({sentences} sentences x 2 voices x {len(stt_conditions)} conditions), speech at "
        "-20 dBFS with 0.3 s of silence each side; noise is white Gaussian, SNR against the speech's own power. "
        "The espeak-ng voice is synthetic and far from natural speech: read its column as a robustness check, "
        "not as a prediction for people. Wake clips have 1 s of silence each side; "
        "a hit is at least one detection in the clip.",
        f"{load_note(load_before, load_after)}; STT part {stt_s:.0f} s, "
        f"{time.monotonic() - started:.0f} s in all.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help=f"how many (up to {len(SENTENCES)})")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    body = run(args.sentences)
    print(body)
    write_result("accuracy", body, command=f"python -m bench.accuracy --sentences {args.sentences}")


if __name__ == "__main__":
    main()
