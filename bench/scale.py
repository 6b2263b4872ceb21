"""Hub scale: N satellites connected, K of them talking at once; latency, throughput, MQTT rate, RSS.

The real hub (real models, in this process) drives N scripted Wyoming satellites
(``testbed.simsat.SimSatellite``, real TCP) and publishes to a real Mosquitto started from the
repository's config. In each round K satellites ask "What time is it?" at the same moment (a
fast-path turn: STT -> intent -> TTS, no LLM) and the round ends when every one has its answer;
rounds run back to back. Latency is end of speech (the satellite sent its last chunk holding
speech) -> first answer audio at that satellite, one clock. Throughput is answered turns per
minute of wall time. A monitor subscribed to ``voice/#`` counts every MQTT message. RSS is this
whole process (hub, models and the simulated satellites).

Rooms are independent, so the hub's room-arbitration window is 0 here (with the default 200 ms,
wakes from different rooms that close together would be treated as one utterance).

    .venv/bin/python -m bench.scale [--satellites 1 5 20 50] [--talkers 1 2 4 8 16]

Writes the "scale" section of docs/BENCHMARKS.md and docs/bench-scale.png.

    .venv/bin/python -m bench.scale --stt-modes local 1 2 [--satellites 8] [--talkers 1 2 4 8]

compares speech recognition in the hub (``local``) with 1 and 2 real ``wyoming-faster-whisper``
servers (``.venv-peers/faster-whisper``, whisper tiny.en from our package) behind the hub's
``[stt] servers`` pool, measures the CPU each side spends per turn, and writes the "scale-remote"
section with a paper model of a 30-room house (bench/scale_remote.py).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.latency import pct
from bench.results import RESULTS, load_note, write_result
from common.local_broker import MosquittoBroker
from common.mqtt import MqttLink
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.events import ConversationEvent, EventKind
from hub.loaded_models import Models
from hub.settings import HubSettings
from testbed.audio_fixtures import SpeechMaker
from testbed.simsat import SimSatellite

PLOT = RESULTS.parent / "bench-scale.png"
QUESTION = "What time is it?"


@dataclass
class Point:
    satellites: int
    talkers: int
    latencies_ms: list[float]
    turns: int
    seconds: float
    mqtt_messages: int
    rss_mb: float
    failed: int

    @property
    def turns_per_minute(self) -> float:
        return 60 * self.turns / self.seconds

    @property
    def mqtt_per_second(self) -> float:
        return self.mqtt_messages / self.seconds


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, topic: str, payload: bytes) -> None:
        self.count += 1


async def round_of(recorder: EventRecorder, talkers: list[SimSatellite], pcm: bytes) -> tuple[list[float], int]:
    """K talkers at once; returns their latencies (ms) and how many turns did not end with an answer."""
    since = len(recorder.events)
    before = {s.name: len(s.answers) for s in talkers}
    await asyncio.gather(*(s.say(pcm) for s in talkers))
    names = {s.name for s in talkers}
    ended: dict[str, object] = {}

    async def collect() -> None:
        seen = since
        while len(ended) < len(names):
            for event in recorder.events[seen:]:
                if event.kind is EventKind.TURN_ENDED and event.satellite in names:
                    ended[event.satellite] = event
            seen = len(recorder.events)
            if len(ended) < len(names):
                await recorder.wait_for(functools.partial(_grown, recorder, seen), 300)

    await asyncio.wait_for(collect(), 300)
    latencies, failed = [], 0
    for satellite in talkers:
        answers = satellite.answers[before[satellite.name]:]
        if not answers or answers[0].first_chunk_t is None or satellite.speech_end_t is None:
            failed += 1
            continue
        await asyncio.wait_for(answers[0].done.wait(), 60)
        latencies.append(1000 * (answers[0].first_chunk_t - satellite.speech_end_t))
    for satellite in talkers:  # keep the process's memory the hub's
        satellite.answers.clear()
        satellite.received.clear()
    return latencies, failed


async def measure(models: Models, broker: MosquittoBroker, n: int, ks: list[int], min_turns: int,
                  pcm: bytes, workdir: Path) -> list[Point]:
    satellites = [SimSatellite(f"room-{i:02d}") for i in range(n)]
    for satellite in satellites:
        await satellite.start()
    counter = Counter()
    monitor = MqttLink(broker.settings("monitor"), f"bench-monitor-{n}")
    monitor.subscribe_raw("voice/#", counter)
    monitor_task = asyncio.create_task(monitor.run(), name="monitor")
    settings = HubSettings.model_validate({
        "data_dir": str(workdir / f"hub-{n}"), "satellites": [s.uri for s in satellites],
        "mqtt": broker.settings("hub").model_dump(), "wyoming": {"enabled": False},
        "conversation": {"arbitration_window_ms": 0},
    })
    hub = Hub(settings, models)
    await hub.start()
    points = []
    try:
        await asyncio.wait_for(monitor.connected.wait(), 10)
        for satellite in satellites:
            await asyncio.wait_for(satellite.running.wait(), 30)
        recorder = EventRecorder(hub.bus)
        await round_of(recorder, satellites[:1], pcm)  # warm-up
        for k in ks:
            if k > n:
                continue
            rounds = max(2, math.ceil(min_turns / k))
            talkers = satellites[:k]
            latencies: list[float] = []
            failed = 0
            messages_before = counter.count
            started = time.monotonic()
            for _ in range(rounds):
                got, lost = await round_of(recorder, talkers, pcm)
                latencies += got
                failed += lost
            seconds = time.monotonic() - started
            point = Point(n, k, latencies, len(latencies), seconds, counter.count - messages_before,
                          psutil.Process().memory_info().rss / 2**20, failed)
            points.append(point)
            print(f"N={n} K={k}: p50 {statistics.median(latencies):.0f} ms, p95 {pct(latencies, 0.95):.0f} ms, "
                  f"{point.turns_per_minute:.1f} turns/min, {point.mqtt_per_second:.1f} MQTT msg/s, "
                  f"RSS {point.rss_mb:.0f} MB, failed {failed}, load {os.getloadavg()[0]:.2f}")
    finally:
        await hub.close()
        for satellite in satellites:
            await satellite.close()
        monitor_task.cancel()
        await asyncio.gather(monitor_task, return_exceptions=True)
    return points


def knee(points: list[Point]) -> str:
    """Where adding talkers stops adding throughput, and where latency doubles, for the largest N."""
    largest = max(p.satellites for p in points)
    curve = sorted((p for p in points if p.satellites == largest), key=lambda p: p.talkers)
    base = statistics.median(curve[0].latencies_ms)
    doubled = next((p.talkers for p in curve if statistics.median(p.latencies_ms) > 2 * base), None)
    saturated = next((b.talkers for a, b in zip(curve, curve[1:], strict=False)
                      if b.turns_per_minute < 1.15 * a.turns_per_minute), None)
    best = max(curve, key=lambda p: p.turns_per_minute)
    parts = [f"With {largest} satellites connected: median latency {base:.0f} ms with one talker"]
    parts.append(f"doubles by K = {doubled}" if doubled else "never doubles in this range")
    parts.append(f"throughput stops growing (< +15 %) at K = {saturated}" if saturated
                 else "throughput still growing at the largest K")
    parts.append(f"peak {best.turns_per_minute:.0f} turns/min at K = {best.talkers}")
    return "; ".join(parts) + "."


def plot(points: list[Point]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n in sorted({p.satellites for p in points}):
        curve = sorted((p for p in points if p.satellites == n), key=lambda p: p.talkers)
        ks = [p.talkers for p in curve]
        ax.plot(ks, [statistics.median(p.latencies_ms) for p in curve], marker="o", label=f"N={n} p50")
        ax.plot(ks, [pct(p.latencies_ms, 0.95) for p in curve], marker="x", linestyle="--", label=f"N={n} p95")
        bx.plot(ks, [p.turns_per_minute for p in curve], marker="o", label=f"N={n}")
    for axis in (ax, bx):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("K satellites talking at once")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    ax.set_ylabel("end of speech -> first audio, ms")
    ax.set_title("Latency (fast-path turn)")
    bx.set_ylabel("answered turns per minute")
    bx.set_title("Throughput")
    fig.suptitle(f"Hearth hub scale, {os.cpu_count()} CPUs")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)


async def run(ns: list[int], ks: list[int], min_turns: int, workdir: Path) -> str:
    load_before = os.getloadavg()
    started = time.monotonic()
    broker = MosquittoBroker(workdir / "mqtt")
    broker.prepare()
    broker.start()
    try:
        models = await asyncio.to_thread(Models.load, HubSettings())
        pcm = SpeechMaker(models.tts)(QUESTION)
        points: list[Point] = []
        for n in ns:
            points += await measure(models, broker, n, ks, min_turns, pcm, workdir)
    finally:
        broker.stop()
    load_after = os.getloadavg()
    plot(points)
    lines = ["| satellites N | talking K | turns | p50 ms | p95 ms | turns/min | MQTT msg/s | MQTT msg/turn | RSS MB | failed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p.satellites} | {p.talkers} | {p.turns} | {statistics.median(p.latencies_ms):.0f} | "
                     f"{pct(p.latencies_ms, 0.95):.0f} | {p.turns_per_minute:.1f} | {p.mqtt_per_second:.1f} | "
                     f"{p.mqtt_messages / max(1, p.turns):.1f} | {p.rss_mb:.0f} | {p.failed} |")
    lines += [
        "",
        knee(points),
        "",
        f"![latency and throughput vs K]({PLOT.name})",
        "",
        f"Fast-path turn (\"{QUESTION}\", piper voice, real time), K satellites start speaking in the same "
        f"instant, rounds back to back, at least {min_turns} turns per point after one warm-up turn. Latency: end of "
        "speech -> first answer audio at the satellite (includes the 700 ms end-of-speech window). Speech "
        "recognition is one whisper worker (2 threads), served round-robin across rooms, so K simultaneous "
        "turns queue there: the K-th waits for K-1 transcriptions. MQTT counts every message on `voice/#` "
        "(state changes, turn reports, metrics) during the point. RSS is the whole bench process.",
        f"{load_note(load_before, load_after)} "
        f"(other work was running on this machine); {time.monotonic() - started:.0f} s in all.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stt-modes", nargs="+", default=None,
                        help="compare 'local' and N remote wyoming-faster-whisper servers (e.g. local 1 2)")
    parser.add_argument("--satellites", type=int, nargs="+", default=[1, 5, 20, 50])
    parser.add_argument("--talkers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--min-turns", type=int, default=8, help="turns per point at least (rounds of K)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-scale-"))
    workdir.chmod(0o755)  # mosquitto drops root for its own user
    if args.stt_modes:
        from bench.scale_remote import run_modes

        body = asyncio.run(run_modes(args.stt_modes, args.satellites[0], args.talkers, args.min_turns, workdir))
        print(body)
        write_result("scale-remote", body, command=(
            f"python -m bench.scale --stt-modes {' '.join(args.stt_modes)} --satellites {args.satellites[0]} "
            f"--talkers {' '.join(map(str, args.talkers))} --min-turns {args.min_turns}"))
        return
    body = asyncio.run(run(args.satellites, args.talkers, args.min_turns, workdir))
    print(body)
    command = (f"python -m bench.scale --satellites {' '.join(map(str, args.satellites))} "
               f"--talkers {' '.join(map(str, args.talkers))} --min-turns {args.min_turns}")
    write_result("scale", body, command=command)


if __name__ == "__main__":
    main()


def _grown(recorder: EventRecorder, seen: int, event: ConversationEvent) -> bool:
    return len(recorder.events) > seen
