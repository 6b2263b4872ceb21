"""Recognition tuned for commands: WER, "carried out" and compute time per whisper option.

Audio as the hub receives it after a wake (``AUDIO``): the command alone; all of "Hey Jarvis."
then the command with no pause (our satellite streams from before the wake phrase, issue 13);
the last 400 ms of the wake phrase then the command (streaming from inside the phrase). Voices
and commands come from ``testbed/speech_corpus.py`` (piper and espeak-ng; tuning and held-out
parts), each quiet and over pink noise 10 dB under the speech.

Options (everything else as the hub runs it: int8, beam 1, English, 2 threads):

- ``before``: what the hub ran until now: tiny.en with faster-whisper's temperature fallback, no
  vocabulary, the raw transcript into intent matching, never asking again.
- ``T0``: temperature 0 only (deterministic); transcript cleaned by ``hub.pipeline.transcript`` and judged.
- ``T0+wake word``: plus the wake word as whisper ``hotwords`` (the hub's default).
- ``T0+home hotwords`` / ``T0+home prompt``: the home's names as ``hotwords`` or ``initial_prompt``.
- ``base T0+wake word``: whisper base.
- ``T0+wake word+noise suppression``: WebRTC noise suppression on the audio before whisper.

WER is against the command (a leftover wake phrase is not a word the person asked for);
"carried out": the intent matched on what the hub acts on equals the intent matched on the
command's own text; "wrong action": another intent. The decoder's confidence on speech, noise
alone and fragments is what the hub's ask-again thresholds were chosen from.

    .venv/bin/python -m bench.stt_commands [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from bench.accuracy import edit_distance, normalise
from bench.results import load_note, write_result
from common import models
from hub.home.intents import IntentMatcher
from hub.pipeline.stt import PromptStyle, SpeechToText, Transcription
from hub.pipeline.transcript import Confidence, DoubtSettings, clean, doubt
from satellite.dsp.echo import MicCleanup
from testbed import speech_corpus as sc

WAKE_VOCABULARY = ("Hey Jarvis",)
"""What every turn gives whisper by default: the wake phrase that opened it."""
HOME_VOCABULARY = ("kitchen", "bedroom", "living room", "office", "porch", "garage", "lights", "lamp", "fan",
                   "thermostat", "timer", "volume", "Hey Jarvis")
"""With ``[models] stt_vocabulary`` set to the home's rooms and devices (the wake phrase still last)."""
WAKE_WORD = "hey_jarvis"


@dataclass(frozen=True)
class Clip:
    audio: str
    part: str
    voice: str
    noise: str
    command: sc.Command
    pcm: bytes


AUDIO = {
    "command": "the command alone (nothing lost, nothing left over)",
    "after wake": "all of \"Hey Jarvis.\" then the command, no pause (streamed from before the wake phrase)",
    "tail 400 ms": "the last 400 ms of \"Hey Jarvis.\" then the command (streamed from inside the wake phrase)",
}


@dataclass(frozen=True)
class Option:
    name: str
    audio: tuple[str, ...]
    model: str = "tiny.en"
    fallback: bool = False
    vocabulary: tuple[str, ...] = ()
    prompt: PromptStyle = "hotwords"
    cleaned: bool = True
    denoise: bool = False
    """WebRTC noise suppression (the satellite's mic clean-up stage) on the clip before whisper."""


OPTIONS = (
    Option("before", ("command", "after wake"), fallback=True, cleaned=False),
    Option("T0", ("after wake",)),
    Option("T0+wake word", ("command", "after wake", "tail 400 ms"), vocabulary=WAKE_VOCABULARY),
    Option("T0+home hotwords", ("command", "after wake"), vocabulary=HOME_VOCABULARY),
    Option("T0+home prompt", ("command",), vocabulary=HOME_VOCABULARY, prompt="prompt"),
    Option("base T0+wake word", ("after wake",), model="base", vocabulary=WAKE_VOCABULARY),
    Option("T0+wake word+noise suppression", ("command", "after wake"), vocabulary=WAKE_VOCABULARY, denoise=True),
)
CHOSEN = "T0+wake word"
"""The hub's defaults: its confidence figures choose the ask-again thresholds."""


@dataclass
class Tally:
    errors: int = 0
    words: int = 0
    actionable: int = 0
    carried: int = 0
    wrong: int = 0
    asked: int = 0
    asked_misheard: int = 0
    clips: int = 0
    compute_ms: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    heard: list[Transcription] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def wer(self) -> float:
        return self.errors / max(1, self.words)

    def __iadd__(self, other: Tally) -> Tally:
        for name in ("errors", "words", "actionable", "carried", "wrong", "asked", "asked_misheard", "clips"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.compute_ms += other.compute_ms
        self.examples += other.examples
        return self


def clips(corpus: sc.Corpus, quick: bool) -> list[Clip]:
    parts = {"tuning": (sc.TUNING_VOICES, sc.TUNING_COMMANDS[::3]),
             "held-out": (sc.HELD_OUT_VOICES, sc.HELD_OUT_COMMANDS[::2])}
    bed = sc.pink(30.0, seed=11)
    out = []
    for part, (voices, commands) in parts.items():
        for v, voice in enumerate(voices[:2] if quick else voices):
            wake = corpus.say(f"{sc.WAKE_PHRASE}.", voice)
            before = {"command": b"", "after wake": wake, "tail 400 ms": wake[-int(sc.RATE * 0.4) * 2:]}
            for c, command in enumerate(commands[:2] if quick else commands):
                said = corpus.say(f"{command.text[0].upper()}{command.text[1:]}.", voice)
                for audio, lead in before.items():
                    pcm = sc.silence(0.2) + lead + said + sc.silence(0.3)
                    out.append(Clip(audio, part, voice, "quiet", command, pcm))
                    noisy = sc.mix_at_snr(pcm, np.roll(bed, 7919 * (v * 31 + c)), 10.0)
                    out.append(Clip(audio, part, voice, "pink 10 dB", command, noisy))
    return out


def probes(corpus: sc.Corpus) -> dict[str, list[bytes]]:
    """Clips that must not be acted on: noise alone and fragments (the wake word alone, a cut-off start)."""
    bed = {kind: sc.noise(kind, corpus, 6.0, seed=5) for kind in sc.NOISES}
    noise_only = [np.clip(bed[kind][i * sc.RATE * 2:(i + 1) * sc.RATE * 2] * 32768 * 10 ** (level / 20), -32768,
                          32767).astype(np.int16).tobytes()
                  for kind in bed for i, level in enumerate((-45, -35, -25))]
    fragments = []
    for voice in sc.TUNING_VOICES:
        for text in ("Hey Jarvis.", "Turn on the", "Um."):
            fragments.append(sc.silence(0.2) + corpus.say(text, voice) + sc.silence(0.3))
    return {"noise only": noise_only, "fragment": fragments}


def same(a: object, b: object) -> bool:
    return a is not None and b is not None and (a.name, a.slots) == (b.name, b.slots)  # type: ignore[attr-defined]


async def run_option(stt: SpeechToText, option: Option, chosen: list[Clip], settings: DoubtSettings,
                     matcher: IntentMatcher) -> dict[tuple[str, str, str], Tally]:
    table: dict[tuple[str, str, str], Tally] = {}
    for clip in chosen:
        pcm = MicCleanup(noise_suppression=True, auto_gain=False).process(clip.pcm) if option.denoise else clip.pcm
        result = await stt.transcribe(pcm, "bench", vocabulary=option.vocabulary)
        cell = table.setdefault((clip.audio, clip.part, clip.noise), Tally())
        cell.clips += 1
        cell.compute_ms.append(result.compute_ms)
        cell.texts.append(result.text)
        cell.heard.append(result)
        heard = clean(result.text, WAKE_WORD) if option.cleaned else clean(result.text)
        said = heard.text if option.cleaned else result.text
        ref = normalise(clip.command.text)
        errors = edit_distance(ref, normalise(said))
        cell.errors += errors
        cell.words += len(ref)
        if errors and len(cell.examples) < 2:
            cell.examples.append(f'"{clip.command.text}" -> "{result.text}" ({clip.voice})')
        expected = matcher.match(clip.command.text)
        if option.cleaned and doubt(heard, Confidence(result.avg_logprob, result.no_speech_prob), settings):
            cell.asked += 1
            cell.asked_misheard += errors > 0
            got = None
        else:
            got = matcher.match(heard.text if option.cleaned else result.text)
        if expected is not None:
            cell.actionable += 1
            cell.carried += same(got, expected)
            cell.wrong += got is not None and not same(got, expected)
    return table


async def confidences(stt: SpeechToText, groups: dict[str, list[bytes]],
                      vocabulary: tuple[str, ...]) -> dict[str, list[Transcription]]:
    return {name: [await stt.transcribe(pcm, "bench", vocabulary=vocabulary) for pcm in pcms]
            for name, pcms in groups.items()}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(quick: bool, names: list[str]) -> str:
    load_before = os.getloadavg()
    started = time.monotonic()
    corpus = sc.Corpus()
    all_clips = clips(corpus, quick)
    probe_clips = probes(corpus)
    settings = DoubtSettings()
    matcher = IntentMatcher()
    loaded: dict[str, SpeechToText] = {}
    results: dict[str, dict[tuple[str, str, str], Tally]] = {}
    repeat: dict[tuple[str, str, str], Tally] = {}
    probe_conf: dict[str, list[Transcription]] = {}
    for option in (o for o in OPTIONS if o.name in names):
        if option.model not in loaded:
            loaded[option.model] = SpeechToText(models.whisper_model_dir(option.model), threads=2)
        stt = loaded[option.model]
        stt.prompt_style = option.prompt
        stt._temperature = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if option.fallback else 0.0  # noqa: SLF001 (bench only)
        chosen = [c for c in all_clips if c.audio in option.audio]
        results[option.name] = asyncio.run(run_option(stt, option, chosen, settings, matcher))
        logging.warning("%s: %d clips, %.0f s so far", option.name, len(chosen), time.monotonic() - started)
        if option.fallback:  # the same noisy clips again: does the transcript change from run to run?
            noisy = [c for c in chosen if c.noise != "quiet"]
            repeat = asyncio.run(run_option(stt, option, noisy, settings, matcher))
        if option.name == CHOSEN:
            probe_conf = asyncio.run(confidences(stt, probe_clips, option.vocabulary))
    load_after = os.getloadavg()

    lines = ["| option | audio | tuning quiet | tuning pink 10 dB | held-out quiet | held-out pink 10 dB "
             "| all: WER | carried out | wrong action | asked again | median compute |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, table in results.items():
        for audio in AUDIO:
            keys = [(audio, part, noise) for part in ("tuning", "held-out") for noise in ("quiet", "pink 10 dB")]
            if not any(k in table for k in keys):
                continue
            total = Tally()
            for k in keys:
                total += table.get(k, Tally())
            cells = [f"{table[k].wer:.0%} / {table[k].carried}/{table[k].actionable}" if k in table else "-"
                     for k in keys]
            lines.append(f"| {name} | {audio} | " + " | ".join(cells) + f" | {total.wer:.1%} | "
                         f"{total.carried}/{total.actionable} ({total.carried / max(1, total.actionable):.0%}) | "
                         f"{total.wrong} | {total.asked} ({total.asked_misheard} misheard) | "
                         f"{statistics.median(total.compute_ms):.0f} ms |")
    lines += ["", "Cells: WER / commands carried out (of those whose own text matches an intent).", ""]
    if repeat and "before" in results:
        first = [t for k, cell in results["before"].items() if k in repeat for t in cell.texts]
        second = [t for cell in repeat.values() for t in cell.texts]
        changed = sum(a != b for a, b in zip(first, second, strict=True))
        fell_back = sum(r.temperature > 0 for k, cell in results["before"].items() for r in cell.heard)
        wer_a = sum(results["before"][k].errors for k in repeat) / max(1, sum(results["before"][k].words for k in repeat))
        wer_b = sum(c.errors for c in repeat.values()) / max(1, sum(c.words for c in repeat.values()))
        lines += [f"Temperature fallback (`before`): {fell_back} of {sum(c.clips for c in results['before'].values())} "
                  f"clips were re-decoded at a higher temperature. Run to run, the {len(second)} noisy clips twice: "
                  f"{changed} transcripts changed, WER {wer_a:.1%} then {wer_b:.1%}. At temperature 0 the same "
                  "audio always gives the same transcript (tests/test_stt_hearing.py checks it).", ""]
    lines += ["Some misheard clips:", ""]
    for name in ("before", CHOSEN):
        for key, cell in results.get(name, {}).items():
            if cell.examples and key[0] == "after wake":
                lines.append(f"- {name}, {', '.join(key)}: " + "; ".join(cell.examples[:1]))
    if CHOSEN in results:
        speech: dict[str, list[Transcription]] = {}
        for (audio, _part, noise), cell in results[CHOSEN].items():
            if audio != "tail 400 ms":
                speech.setdefault(f"speech, {noise}", []).extend(cell.heard)
        lines += ["", f"Decoder confidence with {CHOSEN} (5th / 50th / 95th percentile):", "",
                  "| clips | n | avg log-prob | no-speech prob | what the hub does with the defaults |",
                  "|---|---|---|---|---|"]
        groups = {**speech, **probe_conf}
        for name, found in groups.items():
            lp = [r.avg_logprob for r in found]
            ns = [r.no_speech_prob for r in found]
            verdicts: dict[str, int] = {}
            for r in found:
                code = doubt(clean(r.text, WAKE_WORD), Confidence(r.avg_logprob, r.no_speech_prob), settings)
                verdict = "nothing heard" if not r.text.strip() else (code or "acted on")
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
            lines.append(f"| {name} | {len(found)} | {pct(lp, 5):.2f} / {pct(lp, 50):.2f} / {pct(lp, 95):.2f} | "
                         f"{pct(ns, 5):.2f} / {pct(ns, 50):.2f} / {pct(ns, 95):.2f} | "
                         + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) + " |")
    lines += [
        "", f"{len(all_clips) // len(AUDIO)} recordings per kind of audio: "
        + "; ".join(f"**{k}**: {v}" for k, v in AUDIO.items()) + ". Tuning part: "
        f"{len(sc.TUNING_VOICES)} voices x {len(sc.TUNING_COMMANDS[::3])} commands; held-out part: "
        f"{len(sc.HELD_OUT_VOICES)} voices x {len(sc.HELD_OUT_COMMANDS[::2])} commands "
        "(testbed/speech_corpus.py); each quiet and with pink noise 10 dB under the speech. "
        f"Wake-word vocabulary: {', '.join(WAKE_VOCABULARY)}; home vocabulary: {', '.join(HOME_VOCABULARY)}. "
        "Beam 1, int8, 2 threads. `before` is what the hub ran until now: temperature fallback, no vocabulary, "
        "the raw transcript matched, never asking again. Doubt thresholds (the defaults): avg log-prob < "
        f"{settings.min_avg_logprob}, or no-speech > {settings.max_no_speech_prob} with log-prob < "
        f"{settings.no_speech_logprob} (then the hub stays quiet).",
        f"{load_note(load_before, load_after)}; {time.monotonic() - started:.0f} s in all.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two voices and two commands per part (a smoke run)")
    parser.add_argument("--options", default=",".join(o.name for o in OPTIONS), help="comma-separated option names")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    body = run(args.quick, args.options.split(","))
    print(body)
    if not args.quick:
        write_result("stt_commands", body, command="python -m bench.stt_commands")


if __name__ == "__main__":
    main()
