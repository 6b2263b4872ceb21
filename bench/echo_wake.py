"""Wake word over our own answer: which echo canceller lets "Hey Jarvis" through, offline.

Every signal is synthesised with the piper voice (deterministic, as the tests do): ten assistant
answers (some say "hey", "Jarvis" or near rhymes, to tempt the wake model), and the person's
"Hey Jarvis." followed by a short command. The microphone hears

    mic = person (at an offset into the answer, at a level) + room(answer played)

for two room models:

- ``zero-delay``: the file backend's echo, ``answer * 0.5`` in the same sample (too easy);
- ``realistic``: the loudspeaker's mild soft clipping (tanh), a 20 ms delay, a synthetic
  exponentially decaying impulse response (RT60 0.25 s, a direct path plus a seeded noise tail,
  a different room per answer, broadband gain 0.5) and white noise at -60 dBFS.

Each canceller sees 80 ms blocks (mic, played) from the start of the answer, as the satellite's
``_cancel_echo`` does, and its output goes to the real ``WakeDetector`` with ``gate=False`` and the
barge-in threshold, as ``_listen_over_answer`` does. Scored: wake hits (the detector fires between the
start of "Hey Jarvis" and 1 s after its end), self-triggers (the detector fires on an answer's echo
alone, or before the person speaks), and the canceller's CPU per second of audio.

    .venv/bin/python -m bench.echo_wake
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bench.results import load_note, write_result
from protocol.audio import MIC_FORMAT
from satellite.audio.backends import BLOCK_SAMPLES
from satellite.settings import BargeInSettings

RATE = MIC_FORMAT.rate
ANSWERS = (
    "The weather today is mostly sunny with a high of twenty two degrees. A light breeze comes from the west "
    "in the evening. Tomorrow looks a little cooler, with some clouds in the afternoon.",
    "Hey, good question! Jarvis is the name of the computer that helps Tony Stark in the Iron Man films. "
    "It started as a simple voice assistant and grew into a whole personality. Many people name their "
    "smart speakers after it.",
    "Your timer for the pasta is set for eleven minutes. I will ring when it is done. In the meantime you "
    "could start on the sauce, which needs about ten minutes to simmer. Do not forget to salt the water.",
    "Here is a recipe for pancakes. Mix two cups of flour with two eggs and a cup and a half of milk. "
    "Let the batter rest for ten minutes, then fry small rounds in a hot buttered pan until golden.",
    "Hey there, the kitchen lights are now off and the living room is dimmed to thirty percent. "
    "The front door is locked and the garage is closed. Would you like me to turn the heating down for the "
    "night as well?",
    "Travis Scott is an American rapper and producer from Houston. His third album was released in two "
    "thousand eighteen. He is known for his energetic live shows and his work with other artists.",
    "The harvest festival in the village starts on Saturday at ten in the morning. There will be a market, "
    "a parade and live music. Parking is free near the old church, and a bus runs from the station.",
    "Jarvis Cocker is the singer of the band Pulp, formed in Sheffield in nineteen seventy eight. "
    "Their best known song is Common People. Hey, it is still played at a lot of parties.",
    "Your next appointment is with the dentist on Tuesday at half past three. After that you have a call "
    "with your sister at five. Remember to bring the insurance card to the dentist, they asked for it twice.",
    "The moon is about three hundred eighty four thousand kilometres from the earth. It takes about "
    "twenty seven days to orbit once. The same side always faces us, because its rotation is locked.",
)
WAKE = "Hey Jarvis."
COMMANDS = ("Stop.", "What time is it?", "Turn off the lights.")
OFFSETS_S = (1.5, 4.0, 7.0)
"""When the person starts talking, seconds into the answer (the first tests a barely converged canceller)."""
LEVELS_DB = (0.0, -6.0, -12.0)
"""The person's voice relative to piper's output; the echo is 6 dB under it: near/echo +6, 0, -6 dB."""
ECHO_GAIN = 0.5
HIT_WINDOW_S = 1.0
"""A detection up to this long after the end of "Hey Jarvis" counts as a hit."""
THRESHOLD = BargeInSettings().wake_threshold


# -- the room ---------------------------------------------------------------------------------------

def impulse_response(seed: int, rt60_s: float = 0.25, delay_ms: float = 20.0, length_s: float = 0.4) -> np.ndarray:
    """Loudspeaker -> microphone: a direct path after ``delay_ms``, then a noise tail decaying 60 dB in ``rt60_s``."""
    rng = np.random.default_rng(seed)
    n = int(length_s * RATE)
    t = np.arange(n) / RATE
    tail = rng.normal(0.0, 1.0, n) * np.exp(-6.9078 * t / rt60_s)
    tail[: int(0.003 * RATE)] = 0.0  # the first reflections arrive a few ms after the direct sound
    tail *= 0.6 / np.sqrt(np.sum(tail ** 2))  # reverberant energy 4.4 dB under the direct path's
    tail[0] = 1.0
    h = np.concatenate((np.zeros(int(delay_ms * RATE / 1000)), tail))
    return h * ECHO_GAIN / np.sqrt(np.sum(h ** 2))


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    size = 1 << int(np.ceil(np.log2(len(x) + len(h) - 1)))
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]


def zero_delay_echo(played: np.ndarray, seed: int) -> np.ndarray:
    return played.astype(np.float64) * ECHO_GAIN


def realistic_echo(played: np.ndarray, seed: int) -> np.ndarray:
    saturation = 0.6 * 32768  # a small loudspeaker compresses piper's peaks (near full scale) by a few dB
    driven = saturation * np.tanh(played.astype(np.float64) / saturation)
    noise = np.random.default_rng(1000 + seed).normal(0.0, 32768 * 10 ** (-60 / 20), len(played))
    return convolve(driven, impulse_response(seed)) + noise


ROOMS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "zero-delay gain 0.5": zero_delay_echo,
    "realistic (20 ms, RT60 0.25 s, tanh, noise)": realistic_echo,
}


# -- the cancellers ---------------------------------------------------------------------------------

class NoCanceller:
    def process(self, mic: bytes, played: bytes) -> bytes:
        return mic


class Chain:
    """Linear first (removes most of the echo, keeps the voice), then WebRTC on what is left."""

    def __init__(self) -> None:
        from satellite.dsp.echo import WebRtcEchoCanceller
        from satellite.dsp.linear_echo import LinearEchoCanceller

        # Without its guards (noise floor, muted start): WebRTC's suppressor does that job here.
        self._linear = LinearEchoCanceller(noise_floor_dbfs=None, mute_until_converged=False)
        self._webrtc = WebRtcEchoCanceller()

    def process(self, mic: bytes, played: bytes) -> bytes:
        return self._webrtc.process(self._linear.process(mic, played), played)


def make_canceller(name: str):
    from satellite.dsp.echo import WebRtcEchoCanceller
    from satellite.dsp.linear_echo import LinearEchoCanceller

    return {"none": NoCanceller, "webrtc": WebRtcEchoCanceller, "linear": LinearEchoCanceller,
            "linear -> webrtc": Chain}[name]()


CANCELLERS = ("none", "webrtc", "linear", "linear -> webrtc")


# -- one run: a canceller in a room -----------------------------------------------------------------

@dataclass(frozen=True)
class Trial:
    answer: int
    offset_s: float
    level_db: float
    mic: np.ndarray
    played: np.ndarray
    onset: int
    wake_end: int


@dataclass
class Outcome:
    hits: int = 0
    trials: int = 0
    self_triggers: int = 0
    answers: int = 0
    early_fires: int = 0
    """Fired on the echo before the person spoke, in a trial."""
    hit_flags: list[bool] = field(default_factory=list)
    best_scores: list[float] = field(default_factory=list)
    answer_scores: list[float] = field(default_factory=list)
    echo_removed_db: list[float] = field(default_factory=list)
    """Per answer alone: echo energy over output energy, after its first 2 s (the canceller has converged)."""
    cpu_s: float = 0.0
    audio_s: float = 0.0
    speech_self_triggers: int = 0
    """Answers alone whose echo residue the VAD took for the person talking over it (``on_speech`` barge-in)."""
    speech_hits: int = 0
    """Trials where that barge-in fired while the person spoke."""


def speech_barge_in_at(audio: np.ndarray) -> list[int]:
    """Where the satellite's ``on_speech`` barge-in would fire: the default VAD's speech held long enough."""
    from satellite.core import SPEECH_BARGE_IN_MS
    from satellite.dsp.vad import speech_detector
    from satellite.settings import VadSettings

    vad_settings = VadSettings()
    vad = speech_detector(vad_settings.engine, vad_settings.threshold, vad_settings.aggressiveness)
    block_ms = 1000 * BLOCK_SAMPLES / RATE
    held, fired = 0.0, []
    for start in range(0, len(audio) - BLOCK_SAMPLES + 1, BLOCK_SAMPLES):
        held = held + block_ms if vad.is_speech(audio[start:start + BLOCK_SAMPLES].tobytes()) else 0.0
        if held >= SPEECH_BARGE_IN_MS:
            fired.append(start + BLOCK_SAMPLES)
            held = 0.0
    return fired


class Scorer:
    """The satellite's wake detector behind one canceller, block by block."""

    def __init__(self) -> None:
        from satellite.dsp.wake import WakeDetector

        self.wake = WakeDetector("hey_jarvis", THRESHOLD, refractory_s=2.0)
        self._t = 0.0
        self.cpu_s = 0.0
        self.audio_s = 0.0
        self.output = np.zeros(0, dtype=np.int16)
        """The canceller's output in the last run."""

    def run(self, canceller, mic: np.ndarray, played: np.ndarray, watch_from: int = 0) -> tuple[list[int], float]:
        """Blocks (end sample) where the detector fired, and the best score from ``watch_from`` on."""
        self.wake.reset()
        self.output = np.zeros(len(mic) // BLOCK_SAMPLES * BLOCK_SAMPLES, dtype=np.int16)
        self._t += 1000.0  # past the refractory time of any earlier run
        fired: list[int] = []
        watching = False
        for start in range(0, len(mic) - BLOCK_SAMPLES + 1, BLOCK_SAMPLES):
            end = start + BLOCK_SAMPLES
            began = time.process_time()
            audio = canceller.process(mic[start:end].tobytes(), played[start:end].tobytes())
            self.cpu_s += time.process_time() - began
            self.audio_s += BLOCK_SAMPLES / RATE
            self.output[start:end] = np.frombuffer(audio, dtype=np.int16)
            if not watching and end > watch_from:
                self.wake.best_score, watching = 0.0, True
            hit = self.wake.process(audio, self._t + end / RATE, speech=False, gate=False, threshold=THRESHOLD)
            if hit is not None:
                fired.append(end)
        return fired, self.wake.best_score


def run_one(room: str, canceller_name: str, answers: list[np.ndarray], echoes: list[np.ndarray],
            trials: list[Trial]) -> tuple[str, str, Outcome]:
    scorer = Scorer()
    outcome = Outcome()
    for played, echo in zip(answers, echoes, strict=True):
        mic = np.clip(np.round(echo), -32768, 32767).astype(np.int16)
        fired, best = scorer.run(make_canceller(canceller_name), mic, played)
        converged = slice(2 * RATE, len(scorer.output))
        outcome.echo_removed_db.append(energy_db(mic[converged]) - energy_db(scorer.output[converged]))
        outcome.answers += 1
        outcome.self_triggers += bool(fired)
        outcome.answer_scores.append(best)
        outcome.speech_self_triggers += bool(speech_barge_in_at(scorer.output))
    for trial in trials:
        fired, best = scorer.run(make_canceller(canceller_name), trial.mic, trial.played, watch_from=trial.onset)
        outcome.trials += 1
        outcome.early_fires += any(end <= trial.onset for end in fired)
        hit = any(trial.onset < end <= trial.wake_end + HIT_WINDOW_S * RATE for end in fired)
        outcome.hits += hit
        outcome.speech_hits += any(trial.onset < end for end in speech_barge_in_at(scorer.output))
        outcome.hit_flags.append(hit)
        outcome.best_scores.append(best)
    outcome.cpu_s, outcome.audio_s = scorer.cpu_s, scorer.audio_s
    return room, canceller_name, outcome


def energy_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9))


# -- the experiment -----------------------------------------------------------------------------------

def synthesise() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    from bench.barge_in import trim
    from common.models import piper_voice_path
    from hub.pipeline.tts import TextToSpeech
    from testbed.audio_fixtures import SpeechMaker

    speech = SpeechMaker(TextToSpeech(piper_voice_path()))

    def pcm(text: str) -> np.ndarray:
        return np.frombuffer(trim(speech(text)), dtype=np.int16)

    answers = [pcm(text) for text in ANSWERS]
    return answers, pcm(WAKE), [pcm(text) for text in COMMANDS]


def build_trials(answers: list[np.ndarray], echoes: list[np.ndarray], wake: np.ndarray,
                 commands: list[np.ndarray]) -> list[Trial]:
    trials: list[Trial] = []
    gap = np.zeros(int(0.3 * RATE), dtype=np.int16)
    for index, (played, echo) in enumerate(zip(answers, echoes, strict=True)):
        for offset_s in OFFSETS_S:
            for level_db in LEVELS_DB:
                phrase = np.concatenate((wake, gap, commands[(index + len(trials)) % len(commands)]))
                onset = int(offset_s * RATE)
                length = min(len(played), onset + len(phrase) + int(0.5 * RATE))
                mic = echo[:length].copy()
                voice = phrase.astype(np.float64) * 10 ** (level_db / 20)
                mic[onset:onset + len(voice)] += voice[: len(mic) - onset]
                mic16 = np.clip(np.round(mic), -32768, 32767).astype(np.int16)
                trials.append(Trial(index, offset_s, level_db, mic16, played[:length], onset, onset + len(wake)))
    return trials


def run(workers: int, cancellers: tuple[str, ...] = CANCELLERS) -> str:
    started = time.monotonic()
    load_before = os.getloadavg()
    answers, wake, commands = synthesise()
    shortest = min(len(a) for a in answers) / RATE
    assert shortest > max(OFFSETS_S) + 1.5, f"an answer is too short ({shortest:.1f} s)"
    print(f"synthesised {len(answers)} answers ({sum(len(a) for a in answers) / RATE:.0f} s) "
          f"in {time.monotonic() - started:.0f} s")
    jobs = []
    for room, model in ROOMS.items():
        echoes = [model(played, seed) for seed, played in enumerate(answers)]
        trials = build_trials(answers, echoes, wake, commands)
        jobs += [(room, name, answers, echoes, trials) for name in cancellers]
    # The ceiling: the same trials with no echo at all.
    quiet = [np.zeros(len(a)) for a in answers]
    jobs.append(("no echo (ceiling)", "none", answers, quiet, build_trials(answers, quiet, wake, commands)))
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(run_one, *zip(*jobs, strict=True)))
    for room, name, outcome in results:
        print(f"{room} | {name}: {outcome.hits}/{outcome.trials} hits, {outcome.self_triggers}/{outcome.answers} "
              f"self-triggers, {outcome.early_fires} early fires, CPU {100 * outcome.cpu_s / outcome.audio_s:.2f} %")
    return report(results, time.monotonic() - started, load_before)


def report(results: list[tuple[str, str, Outcome]], seconds: float, load_before: tuple[float, ...]) -> str:
    lines = []
    for room in [*ROOMS, "no echo (ceiling)"]:
        lines += [f"**{room}**", "",
                  "| canceller | wake hits / trials | self-triggers / answers | fired before the person spoke "
                  "| median best wake score | median best score, answers alone | median echo removed, dB "
                  "| CPU % of one core | speech barge-in: self-triggers / answers | speech barge-in: person heard / trials |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r, name, o in results:
            if r == room:
                lines.append(f"| {name} | {o.hits} / {o.trials} | {o.self_triggers} / {o.answers} | {o.early_fires} "
                             f"| {statistics.median(o.best_scores):.2f} | {statistics.median(o.answer_scores):.2f} "
                             f"| {statistics.median(o.echo_removed_db):.1f} | {100 * o.cpu_s / o.audio_s:.2f} "
                             f"| {o.speech_self_triggers} / {o.answers} | {o.speech_hits} / {o.trials} |")
        lines.append("")
    lines += breakdown(results)
    lines += [
        f"{len(ANSWERS)} piper answers x offsets {', '.join(f'{o:g}' for o in OFFSETS_S)} s x near-end levels "
        f"{', '.join(f'{lv:+g}' for lv in LEVELS_DB)} dB (near/echo about "
        f"{', '.join(f'{lv + 6:+g}' for lv in LEVELS_DB)} dB) = {len(ANSWERS) * len(OFFSETS_S) * len(LEVELS_DB)} "
        f"trials per row; the person says \"{WAKE}\" then a command, in the same piper voice as the answer. "
        f"Wake model hey_jarvis, threshold {THRESHOLD} (the barge-in threshold), every block scored (no VAD gate). "
        f"A hit is a detection from the start of the wake phrase to {HIT_WINDOW_S:g} s after its end. Self-triggers: "
        "the detector fired anywhere in an answer's echo alone (a fresh canceller, no one speaking). Echo removed: "
        "answers alone, after their first 2 s. CPU: the canceller alone (`time.process_time`) per second of audio "
        "on this machine; the wake model adds about 3 % whichever canceller runs. Speech barge-in (`on_speech`, off "
        "by default): the satellite's default VAD on the canceller's output holds speech for 300 ms; self-triggers "
        "on an answer alone, person heard = it fired after the person started (the echo alone may fire it too). "
        f"{load_note(load_before)}; {seconds:.0f} s.",
        "",
        reading(results),
    ]
    return "\n".join(lines)


def breakdown(results: list[tuple[str, str, Outcome]]) -> list[str]:
    """Hits by near-end level and by offset, in the realistic room (where the cancellers differ most)."""
    room = list(ROOMS)[1]
    per_level, per_offset = len(LEVELS_DB), len(OFFSETS_S) * len(LEVELS_DB)
    lines = [f"Hits by near-end level and by when the person spoke, {room}:", "",
             "| canceller | " + " | ".join(f"{lv:+g} dB" for lv in LEVELS_DB) + " | "
             + " | ".join(f"at {o:g} s" for o in OFFSETS_S) + " |",
             "|---|" + "---|" * (len(LEVELS_DB) + len(OFFSETS_S))]
    for r, name, o in results:
        if r != room:
            continue
        flags = o.hit_flags
        levels = [f"{sum(flags[i::per_level])} / {len(flags[i::per_level])}" for i in range(per_level)]
        offsets = [[f for k, f in enumerate(flags) if k % per_offset // per_level == i] for i in range(len(OFFSETS_S))]
        lines.append(f"| {name} | " + " | ".join(levels) + " | "
                     + " | ".join(f"{sum(f)} / {len(f)}" for f in offsets) + " |")
    return [*lines, ""]


def reading(results: list[tuple[str, str, Outcome]]) -> str:
    """The paragraph under the tables, from the numbers (so a rerun cannot leave it stale)."""
    easy, realistic = list(ROOMS)
    got = {(r, n): o for r, n, o in results}
    if not all((room, n) in got for room in ROOMS for n in ("webrtc", "linear")):
        return ""
    web, lin = got[(realistic, "webrtc")], got[(realistic, "linear")]
    web0, lin0 = got[(easy, "webrtc")], got[(easy, "linear")]
    none = got.get((realistic, "none"))
    chain = got.get((realistic, "linear -> webrtc"))
    ceiling = got.get(("no echo (ceiling)", "none"))

    def cpu(o: Outcome) -> str:
        return f"{100 * o.cpu_s / o.audio_s:.1f} %"

    wins = lin.hits > web.hits and lin0.hits >= web0.hits and lin.self_triggers + lin0.self_triggers == 0
    text = (f"**Reading.** In the realistic room the linear canceller heard the wake word in {lin.hits} of "
            f"{lin.trials} trials, WebRTC in {web.hits}"
            + (f", no cancellation at all in {none.hits}" if none else "")
            + (f" (without any echo: {ceiling.hits})" if ceiling else "")
            + f"; in the zero-delay room {lin0.hits} vs {web0.hits}. WebRTC removes more echo "
            f"({statistics.median(web.echo_removed_db):.0f} dB vs {statistics.median(lin.echo_removed_db):.0f} dB "
            "realistic) but its suppressor takes the voice with it: its median best wake score over the trials is "
            f"{statistics.median(web.best_scores):.2f}, against {statistics.median(lin.best_scores):.2f} for the "
            "linear filter, which keeps the voice at its own level and freezes its adaptation while the person "
            "talks. ")
    if chain:
        text += (f"Linear first, then WebRTC, hears {chain.hits}: the suppressor still eats voice. ")
    text += (f"Self-triggers on the answers alone: linear {lin.self_triggers + lin0.self_triggers}, WebRTC "
             f"{web.self_triggers + web0.self_triggers} (of {lin.answers + lin0.answers}). CPU: linear {cpu(lin)}, "
             f"WebRTC {cpu(web)} of one core here. ")
    text += (f"Speech barge-in (`on_speech`, off by default) is another matter: in the realistic room the VAD takes "
             f"the echo residue for a person on {lin.speech_self_triggers} of {lin.answers} answers after the linear "
             f"canceller and {web.speech_self_triggers} after WebRTC, so with either the satellite would interrupt "
             "itself; only the wake word is a safe barge-in over a reverberant answer. ")
    text += ("The linear canceller is therefore the satellite's default (`barge_in.echo_canceller = \"linear\"`; "
             "`\"webrtc\"` remains available)." if wins else
             "The linear canceller does not clearly win here, so WebRTC stays the default.")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cancellers", default=",".join(CANCELLERS), help="a comma-separated subset, for trying")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    body = run(args.workers, tuple(args.cancellers.split(",")))
    print(body)
    if not args.no_write:
        write_result("echo_wake", body, command="python -m bench.echo_wake")


if __name__ == "__main__":
    main()
