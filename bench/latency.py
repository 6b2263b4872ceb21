"""End of speech -> first answer audio at the satellite, ours (streaming) vs. a sequential pipeline.

Ours: the real hub in this process driving a scripted Wyoming satellite over TCP that speaks
piper-made questions in real time; "end of speech" is when the last chunk holding speech left
the satellite, "first audio" when the first answer chunk arrived there (one clock).

Baseline, same models, same process: the way Home Assistant runs a turn: wait for the same
end-of-speech window, full transcript, the full LLM reply, the full TTS, then the first audio
leaves. (The real wyoming-faster-whisper/wyoming-piper servers were not run; their model calls
are these same calls plus a socket hop.)

    .venv/bin/python -m bench.latency [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime

from bench.results import write_result
from hub.app import Hub, Models
from hub.events import EventKind, EventRecorder
from hub.llm.base import LlmRequest
from hub.settings import HubSettings
from tests.audio_fixtures import SpeechMaker
from tests.simsat import SimSatellite

CASES = [
    ("fast path", "What time is it?", "normal"),
    ("one-sentence LLM answer", "What is the capital of France?", "brief"),
    ("three-sentence LLM answer", "Tell me about the moon.", "detailed"),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def ours(hub: Hub, sat: SimSatellite, pcm: bytes, style: str) -> dict[str, float]:
    hub.services.style_for = lambda satellite, room: style
    recorder = EventRecorder(hub.bus)
    answers_before = len(sat.answers)
    await sat.say(pcm, trailing_silence_s=2.0)
    ended = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 120)
    hub.bus._listeners.remove(recorder)
    answer = sat.answers[answers_before]
    await asyncio.wait_for(answer.done.wait(), 60)
    assert sat.speech_end_t is not None and answer.first_chunk_t is not None
    report = hub.timeline.reports[-1]
    stt_ms = next(e.data["stt_ms"] for e in recorder.events if e.kind is EventKind.TRANSCRIPT)
    return {"total": 1000 * (answer.first_chunk_t - sat.speech_end_t), "stt": stt_ms,
            "handler": 0.0 if ended.data["handler"] != "llm" else 1.0,
            **{k: v for k, v in report.timings.model_dump().items() if v is not None}}


async def baseline(models: Models, pcm: bytes, style: str, silence_ms: int, matcher) -> float:
    started = time.perf_counter()
    text = (await models.stt.transcribe(pcm, "baseline")).text
    intent = matcher.match(text)
    if intent is not None:
        reply = "It's 5 PM."
    else:
        request = LlmRequest(user_text=text, room="kitchen", now=datetime.now(), system_prompt="", style=style)
        reply = "".join([piece async for piece in models.llm.stream(request)])
    audio = [chunk async for chunk in models.tts.synthesize(reply)]
    assert audio
    return silence_ms + 1000 * (time.perf_counter() - started)


async def run(repeats: int) -> str:
    settings = HubSettings.model_validate({"mqtt": {"enabled": False}, "wyoming": {"enabled": False},
                                           "data_dir": tempfile.mkdtemp()})
    models = await asyncio.to_thread(Models.load, settings)
    speech = SpeechMaker(models.tts)
    sat = SimSatellite("kitchen")
    await sat.start()
    settings = settings.model_copy(update={"satellites": [sat.uri]})
    hub = Hub(settings, models)
    await hub.start()
    await asyncio.wait_for(sat.running.wait(), 10)
    rows = []
    try:
        for name, question, style in CASES:
            pcm = speech(question)
            await ours(hub, sat, pcm, style)  # warm-up (prompt cache, allocations)
            mine = [await ours(hub, sat, pcm, style) for _ in range(repeats)]
            base = [await baseline(models, pcm, style, settings.conversation.silence_ms, hub.services.matcher)
                    for _ in range(repeats)]
            totals = [m["total"] for m in mine]
            med, base_med = statistics.median(totals), statistics.median(base)
            stages = {k: statistics.median([m.get(k, 0.0) for m in mine])
                      for k in ("endpointing_ms", "transcript_ms", "first_token_ms", "first_sentence_ms", "first_audio_ms")}
            compute = statistics.median([m["stt"] for m in mine])
            rows.append((name, med, pct(totals, 0.95), base_med, med / base_med, stages, compute))
            print(f"{name}: ours median {med:.0f} ms (p95 {pct(totals, 0.95):.0f}), baseline {base_med:.0f} ms, "
                  f"ratio {med / base_med:.2f}; stages {({k: round(v) for k, v in stages.items()})}")
    finally:
        await hub.close()
        await sat.close()
    lines = ["| case | ours median ms | ours p95 ms | baseline median ms | ours / baseline | endpointing | transcript | first token | first sentence | first audio (hub) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, med, p95, base_med, ratio, stages, _ in rows:
        lines.append(f"| {name} | {med:.0f} | {p95:.0f} | {base_med:.0f} | {ratio:.2f} | "
                     + " | ".join(f"{stages[k]:.0f}" for k in ("endpointing_ms", "transcript_ms", "first_token_ms",
                                                               "first_sentence_ms", "first_audio_ms")) + " |")
    lines += ["", f"{repeats} runs per case after one warm-up; stage columns are hub-clock ms after the end of speech "
              "the hub's VAD saw. End-of-speech window 700 ms in both."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    body = asyncio.run(run(args.repeats))
    write_result("latency", body, command=f"python -m bench.latency --repeats {args.repeats}")


if __name__ == "__main__":
    main()
