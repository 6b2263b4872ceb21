"""Robustness set for the short end-of-speech window: 40 utterances with natural mid-sentence pauses.

Each utterance is two parts with a 300-900 ms pause between them ("turn on the ... kitchen light",
"set a timer for ... ten minutes"), rendered by piper (the hub's voice, each part synthesised on its
own, so the first part ends with a finished sentence's fall: the hard case) or espeak-ng (one SSML
sentence with a ``<break>``, so the voice carries on as a person does), with digital silence or
-55 dBFS noise in the pause. Three kinds:

- ``open``: the words before the pause are not a command ("turn on the"): an early commit there
  can only come from a misheard guess;
- ``complete``: the words before the pause are already a whole command ("turn on the kitchen
  light ... and the kettle"): the real risk of an intent-aware window;
- ``question``: language-model questions ("tell me about ... the moon"): never committed early;
  their speculative answers are cancelled at the pause.

The hub's own parts decide, in audio time: its Silero endpointer (``hub.pipeline.endpointing``) marks the
pauses, whisper (the hub's STT) transcribes the audio up to ``speculative_stt_ms`` of silence exactly
as ``EarlyTranscript`` does, and the hub's judge (clean-up, doubt, hassil on the bench's test home)
says whether that guess is a complete command. A guess becomes an early commit when the silence lasts
``max(command_silence_ms, speculative_stt_ms + whisper's measured time)``; it *cuts the person off*
when speech follows. The same is reported with whisper taken as instant (a faster machine: the
worst case) and for the full window alone (the pauses it cuts too).

    .venv/bin/python -m bench.pause_set [--windows 250,300,350,400,500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass, field

from bench.intent_cases import HOME
from hub.home.intents import IntentMatcher
from hub.pipeline.endpointing import Endpointer, EndpointSettings, StreamingSilero
from hub.pipeline.ports import Recognizer
from hub.pipeline.transcript import Confidence, DoubtSettings, clean, doubt
from hub.pipeline.tts import resample_pcm
from protocol.audio import MIC_FORMAT
from testbed.audio_fixtures import SpeechMaker, noise, scale

# (first part, pause ms, second part, kind)
ITEMS: list[tuple[str, int, str, str]] = [
    ("Turn on the", 300, "kitchen light.", "open"),
    ("Set a timer for", 600, "ten minutes.", "open"),
    ("Turn off the", 900, "desk lamp.", "open"),
    ("Set the heating to", 500, "twenty one degrees.", "open"),
    ("Turn on the lights in the", 700, "office.", "open"),
    ("Switch off the", 400, "kettle.", "open"),
    ("Close the", 800, "bedroom blinds.", "open"),
    ("Set a timer for", 900, "five minutes.", "open"),
    ("Dim the", 300, "floor lamp to fifty percent.", "open"),
    ("Turn on the", 500, "big light.", "open"),
    ("Is the", 600, "kettle on?", "open"),
    ("Turn off all the", 700, "lights upstairs.", "open"),
    ("Set a", 400, "twenty minute timer.", "open"),
    ("Turn the", 800, "bedside lamp off.", "open"),
    ("Open the", 350, "curtains.", "open"),
    ("What's the temperature in the", 650, "kitchen?", "open"),
    ("Set the floor lamp to", 450, "thirty percent.", "open"),
    ("Cancel the", 550, "timer.", "open"),
    ("Turn on the", 850, "office fan.", "open"),
    ("How much time is left on the", 750, "timer?", "open"),
    ("Turn on the kitchen light", 300, "and the kettle.", "complete"),
    ("Set a timer for ten minutes", 500, "for the pasta.", "complete"),
    ("Turn off the lights", 700, "in the office.", "complete"),
    ("What time is it", 400, "in Tokyo right now?", "complete"),
    ("Turn on the floor lamp", 600, "at fifty percent.", "complete"),
    ("Close the curtains", 800, "in the living room.", "complete"),
    ("Turn off the kettle", 350, "and the kitchen light.", "complete"),
    ("Turn on the desk lamp", 900, "in the office please.", "complete"),
    ("Set a timer for five minutes", 450, "and another for ten.", "complete"),
    ("Turn on the lights", 550, "in the bedroom.", "complete"),
    ("Tell me about", 400, "the moon.", "question"),
    ("Why is the sky", 600, "blue?", "question"),
    ("How far away is", 800, "the sun?", "question"),
    ("What should I cook", 500, "for dinner tonight?", "question"),
    ("Tell me a joke about", 700, "cats.", "question"),
    ("Who wrote", 300, "Romeo and Juliet?", "question"),
    ("What is the capital of", 900, "France?", "question"),
    ("How do I make", 650, "pancakes?", "question"),
    ("Explain how a rainbow", 450, "forms.", "question"),
    ("What's a good name", 750, "for a dog?", "question"),
]
ESPEAK = ["-v", "en-us", "-s", "165"]
NOISE_DBFS = -55.0
TRAIL_MS = 1000
DEFAULT_WINDOWS = (300, 350, 450, 550, 600)


@dataclass
class Guess:
    at_ms: float
    """Speech end (audio position of the last voiced window) the guess was made for."""
    text: str
    verdict: str
    stt_ms: float
    pause_after_ms: float
    """Silence measured after this speech end before speech resumed (inf: it did not)."""


@dataclass
class Item:
    said: str
    kind: str
    voice: str
    pause_ms: int
    guesses: list[Guess] = field(default_factory=list)


def level(pcm: bytes, dbfs: float = -20.0) -> bytes:
    import numpy as np

    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) or 1.0
    return scale(pcm, dbfs - 20 * np.log10(rms / 32768))


def espeak_pcm(ssml: str) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(["espeak-ng", *ESPEAK, "-m", "-w", out.name, ssml], check=True, capture_output=True)
        with wave.open(out.name) as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    return resample_pcm(pcm, rate, MIC_FORMAT.rate)


def gap(ms: int, index: int) -> bytes:
    seconds = ms / 1000
    return noise(seconds, NOISE_DBFS, seed=index) if index % 2 else bytes(int(MIC_FORMAT.bytes_per_second * seconds))


def render(speech: SpeechMaker, index: int, first: str, pause_ms: int, second: str) -> tuple[str, bytes]:
    """(voice, 16 kHz PCM): even items piper with the pause spliced in, odd ones espeak-ng with an SSML break."""
    if index % 2 == 0:
        pcm = level(speech(first)) + gap(pause_ms, index) + level(speech(second))
        return "piper", pcm + gap(TRAIL_MS, index)
    pcm = level(espeak_pcm(f'<speak>{first} <break time="{pause_ms}ms"/> {second}</speak>'))
    return "espeak-ng", pcm + gap(TRAIL_MS, index)


def silences(pcm: bytes) -> list[tuple[float, float]]:
    """(speech end, silence after it) for every stretch the hub's endpointer sees, in audio ms."""
    endpointer = Endpointer(EndpointSettings(silence_ms=10**6, no_speech_ms=10**6, max_ms=10**6))
    window = StreamingSilero.chunk_bytes()
    ends: list[float] = []
    for offset in range(0, len(pcm) - window + 1, window):
        before = endpointer.speech_end_audio_ms
        endpointer.feed(pcm[offset:offset + window], 0.0)
        if endpointer.speech_end_audio_ms != before and before is not None:
            ends.append(before)
    if endpointer.speech_end_audio_ms is not None:
        ends.append(endpointer.speech_end_audio_ms)
    result = []
    for here, later in zip(ends, [*ends[1:], None], strict=True):
        if later is None:
            result.append((here, float("inf")))
        else:
            # the next voiced window started one window before its end
            result.append((here, later - MIC_FORMAT.duration_ms(window) - here))
    return result


async def guesses(stt: Recognizer, matcher: IntentMatcher, pcm: bytes, speculative_ms: int) -> list[Guess]:
    """Every speculative transcript the hub would make on this audio, judged as the hub judges it."""
    found = []
    settings = DoubtSettings()
    for end_ms, pause_ms in silences(pcm):
        if pause_ms < speculative_ms:
            continue  # speech resumed before a guess was started
        upto = int(MIC_FORMAT.bytes_per_second * (end_ms + speculative_ms) / 1000) // 2 * 2
        started = time.monotonic()
        result = await stt.transcribe(pcm[:upto], "pause-set")
        stt_ms = 1000 * (time.monotonic() - started)
        heard = clean(result.text, "hey_jarvis")
        if not heard.text.strip() or doubt(heard, Confidence(result.avg_logprob, result.no_speech_prob),
                                           settings) is not None:
            verdict = "other"
        else:
            intent = matcher.match(heard.text, "Kitchen")
            verdict = ("other" if intent.slots.get("unknown") else "command") if intent is not None else "llm"
        found.append(Guess(end_ms, result.text, verdict, stt_ms, pause_ms))
    return found


def committed_early(guess: Guess, window_ms: int, speculative_ms: int, silence_ms: int, instant_stt: bool) -> bool:
    """An early commit inside this pause that the full window would not have made (it cuts pauses of
    ``silence_ms`` or more by itself, with or without the short window)."""
    if guess.verdict != "command":
        return False
    due = max(window_ms, speculative_ms + (0.0 if instant_stt else guess.stt_ms))
    return due < silence_ms and due <= guess.pause_after_ms < silence_ms


@dataclass
class WindowResult:
    window_ms: int
    cut: list[str]
    cut_instant: list[str]
    gains: list[float]


def evaluate(items: list[Item], window_ms: int, speculative_ms: int, silence_ms: int) -> WindowResult:
    cut, cut_instant, gains = [], [], []
    for item in items:
        for guess in item.guesses:
            mid = guess.pause_after_ms != float("inf")
            if mid and committed_early(guess, window_ms, speculative_ms, silence_ms, instant_stt=False):
                cut.append(f"{item.said} ({item.voice}, heard {guess.text!r})")
            if mid and committed_early(guess, window_ms, speculative_ms, silence_ms, instant_stt=True):
                cut_instant.append(f"{item.said} ({item.voice})")
            if not mid and guess.verdict == "command":
                gains.append(silence_ms - max(window_ms, speculative_ms + guess.stt_ms))
    return WindowResult(window_ms, cut, cut_instant, gains)


async def measure(stt: Recognizer, speech: SpeechMaker, speculative_ms: int) -> list[Item]:
    matcher = IntentMatcher(lambda: HOME)
    items = []
    for index, (first, pause_ms, second, kind) in enumerate(ITEMS):
        voice, pcm = render(speech, index, first, pause_ms, second)
        item = Item(f"{first} ... {second}", kind, voice, pause_ms)
        item.guesses = await guesses(stt, matcher, pcm, speculative_ms)
        items.append(item)
    return items


def report(items: list[Item], windows: tuple[int, ...], default_ms: int, speculative_ms: int, silence_ms: int) -> str:
    full_cut = [i for i in items if any(g.pause_after_ms != float("inf") and g.pause_after_ms >= silence_ms
                                        for g in i.guesses)]
    lines = [
        f"**Pause set** (`bench/pause_set.py`): {len(items)} utterances with a 300-900 ms pause mid-sentence "
        f"({sum(i.kind == 'open' for i in items)} open: the words before the pause are no command; "
        f"{sum(i.kind == 'complete' for i in items)} complete: they already are one, e.g. 'turn on the kitchen "
        f"light ... and the kettle'; {sum(i.kind == 'question' for i in items)} language-model questions), half "
        "piper (parts synthesised apart, pause spliced in), half espeak-ng (one SSML sentence with a `<break>`), "
        f"half with digital silence and half with {NOISE_DBFS:.0f} dBFS noise in the pause. Guesses at "
        f"{speculative_ms} ms of silence by the hub's whisper, judged by the hub (clean-up, doubt, hassil on the "
        f"bench's test home); {sum(len(i.guesses) for i in items)} guesses, whisper median "
        f"{statistics.median(g.stt_ms for i in items for g in i.guesses):.0f} ms each. A cut-off = an early commit "
        "inside a pause the person then went on from, where the full window would have waited (pauses of the "
        "full window or longer are cut by it anyway, and counted below).",
        "",
        "| command window, ms | cut-offs (whisper as measured) | cut-offs if whisper were instant | "
        "commands at the end committed early | latency gained at the end, median ms |",
        "|---|---|---|---|---|",
    ]
    results = [evaluate(items, w, speculative_ms, silence_ms) for w in windows]
    for result in results:
        mark = " (default)" if result.window_ms == default_ms else ""
        gained = [g for g in result.gains if g > 0]
        lines.append(f"| {result.window_ms}{mark} | {len(result.cut)} | {len(result.cut_instant)} | "
                     f"{len(gained)} of {len(result.gains)} | "
                     f"{statistics.median(gained) if gained else 0:.0f} |")
    chosen = next((r for r in results if r.window_ms == default_ms), results[0])
    lines += ["", f"Full {silence_ms} ms window alone: {len(full_cut)} of {len(items)} utterances cut at their pause "
              f"(pauses the endpointer measured at {silence_ms} ms or more)."]
    if chosen.cut or chosen.cut_instant:
        lines.append("Cut at the default: " + "; ".join(sorted(set(chosen.cut) | set(chosen.cut_instant))) + ".")
    commands = [g for i in items if i.kind == "complete" for g in i.guesses if g.pause_after_ms != float("inf")]
    lines.append(f"Complete commands before the pause: {sum(g.verdict == 'command' for g in commands)} of "
                 f"{len(commands)} mid-utterance guesses judged a command; their pauses as measured (ms): "
                 + ", ".join(f"{g.pause_after_ms:.0f}" for g in commands if g.verdict == "command") + ".")
    misheard = [f"{i.said} -> {g.text!r}" for i in items if i.kind == "open" for g in i.guesses
                if g.verdict == "command" and g.pause_after_ms != float("inf")]
    if misheard:
        lines.append("Open items whose guess was a command anyway: " + "; ".join(misheard) + ".")
    return "\n".join(lines)


def main() -> None:
    from hub.loaded_models import Models
    from hub.settings import HubSettings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", default=",".join(map(str, DEFAULT_WINDOWS)))
    args = parser.parse_args()
    settings = HubSettings()
    conv = settings.conversation
    models = Models.load(settings)
    items = asyncio.run(measure(models.stt, SpeechMaker(models.tts), conv.speculative_stt_ms))
    windows = tuple(int(w) for w in args.windows.split(","))
    print(report(items, windows, conv.command_silence_ms, conv.speculative_stt_ms, conv.silence_ms))
    for item in items:
        print(item.kind, item.voice, item.pause_ms, item.said, [(round(g.at_ms), g.text, g.verdict,
                                                                g.pause_after_ms, round(g.stt_ms))
                                                               for g in item.guesses])


if __name__ == "__main__":
    main()
