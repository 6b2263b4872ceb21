"""Satellite CPU per minute of idle room audio: our VAD-gated pipeline vs. the wake model on every frame.

The baseline is what wyoming-openwakeword does for wyoming-satellite: run the wake model on
every 80 ms frame. Ours runs echo cancellation and WebRTC VAD on every frame and the wake model
only around speech. Same audio, same process, paced as fast as possible and measured with
process CPU time (``time.process_time``), then scaled to one minute of audio.

    .venv/bin/python -m bench.satellite_cpu [--minutes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np
import psutil

from bench.results import write_result
from common.pcm import resample_pcm
from satellite.audio.backends import BLOCK_BYTES
from satellite.dsp.echo import EchoCanceller
from satellite.dsp.vad import WebRtcSpeechDetector
from satellite.dsp.wake import WakeDetector


def room_audio(minutes: float, seed: int = 0) -> bytes:
    """Quiet room noise with a few seconds of (non-wake) speech each minute."""
    from common.models import piper_voice_path
    from hub.tts import TextToSpeech

    tts = TextToSpeech(piper_voice_path())

    async def render(text: str) -> bytes:
        return b"".join([c async for c in tts.synthesize(text)])

    speech = np.frombuffer(resample_pcm(asyncio.run(render(
        "I think we should have pasta for dinner tonight, what do you think?")), tts.audio_format.rate, 16000),
        dtype=np.int16).astype(np.float32)
    rng = np.random.default_rng(seed)
    total = int(16000 * 60 * minutes)
    audio = rng.normal(0, 30, total)  # about -60 dBFS
    for start in range(16000 * 20, total - len(speech), 16000 * 60):
        audio[start:start + len(speech)] += speech * 0.5
    return np.clip(audio, -32768, 32767).astype(np.int16).tobytes()


def cpu_seconds(audio: bytes, gated: bool, echo: bool) -> float:
    wake = WakeDetector("hey_jarvis", 0.5, 2.0, gated=gated)
    vad = WebRtcSpeechDetector(2)
    aec = EchoCanceller() if echo else None
    silence = bytes(BLOCK_BYTES)
    started = time.process_time()
    for offset in range(0, len(audio) - BLOCK_BYTES + 1, BLOCK_BYTES):
        block = audio[offset:offset + BLOCK_BYTES]
        if aec is not None:
            block = aec.process(block, silence)
        speech = vad.is_speech(block)
        wake.process(block, offset / 32000, speech)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    audio = room_audio(args.minutes)
    rows = {}
    for name, gated, echo in (("baseline: wake model on every frame", False, False),
                              ("ours while playing: AEC + VAD, wake model gated", True, True),
                              ("ours idle (AEC skipped while nothing plays): VAD, wake gated", True, False)):
        runs = [cpu_seconds(audio, gated, echo) / args.minutes for _ in range(args.repeats)]
        rows[name] = statistics.median(runs)
        print(f"{name}: {rows[name]:.2f} CPU s per minute of audio (runs {[round(r, 2) for r in runs]})")
    base = rows["baseline: wake model on every frame"]
    ours = rows["ours idle (AEC skipped while nothing plays): VAD, wake gated"]
    rss = psutil.Process().memory_info().rss / 2**20
    lines = [f"| {name} | {value:.2f} | {value / 60 * 100:.1f} % | {value / base:.2f} |" for name, value in rows.items()]
    write_result("satellite_cpu", "\n".join([
        f"Audio: {args.minutes:g} min of quiet room noise with 2.6 s of speech per minute; median of {args.repeats} runs.",
        "",
        "| pipeline | CPU s per minute of audio | of one core | ratio to baseline |",
        "|---|---|---|---|",
        *lines,
        "",
        f"Idle, ours uses {ours / base:.2f}x the baseline's CPU; process RSS {rss:.0f} MB (both pipelines loaded).",
        "Baseline is the wake model on every frame (what wyoming-openwakeword does), in the same process;",
        "the separate wyoming-satellite + wyoming-openwakeword processes were not run here (see the issue note).",
    ]), command="python -m bench.satellite_cpu")


if __name__ == "__main__":
    main()
