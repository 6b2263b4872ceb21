"""bench.scale with speech recognition on 1 or 2 real wyoming-faster-whisper servers vs in the hub.

Same rounds as :mod:`bench.scale` (N scripted satellites, K at once asking "What time is it?",
fast path: STT -> intent -> TTS). Modes: ``local`` (whisper tiny.en in the hub, one worker, 2
threads: what users run today) and ``1``/``2`` (the hub's ``[stt] servers`` pool over that many
``wyoming-faster-whisper`` processes, tiny.en from our package, 2 threads each, no local whisper).
CPU seconds per answered turn are measured for this process (the hub, plus the simulated
satellites and the MQTT monitor, which are small) and for the servers, and feed the paper model
of a 30-room house.

On this machine every server shares the same 2 cores with the hub: a second server cannot add
compute here; what it shows is the pool's overhead and how the queue moves from the hub's
round-robin to the servers.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

import psutil

from bench.latency import pct
from bench.peers import PeerProcess, free_port, running, whisper_command
from bench.results import load_note
from bench.scale import QUESTION, Point, knee, measure
from common.local_broker import MosquittoBroker
from hub.loaded_models import Models
from hub.remote.wyoming_stt import RemoteSpeechToText, stt_pool
from hub.settings import HubSettings
from protocol.payloads import ModelStatus
from testbed.audio_fixtures import SpeechMaker

PI5_PER_CORE = 0.5
"""Assumed speed of one Raspberry Pi 5 core (Cortex-A76, 2.4 GHz) relative to one core of this machine
for whisper/piper-style int8 work. An assumption, not a measurement: replace it with a Pi 5 run."""


def _cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
    return total


async def run_modes(modes: list[str], n: int, ks: list[int], min_turns: int, workdir: Path) -> str:
    load_before = os.getloadavg()
    started = time.monotonic()
    broker = MosquittoBroker(workdir / "mqtt")
    broker.prepare()
    broker.start()
    results: dict[str, tuple[list[Point], float, float]] = {}
    try:
        import asyncio

        local = await asyncio.to_thread(Models.load, HubSettings())
        pcm = SpeechMaker(local.tts)(QUESTION)
        me = psutil.Process()
        for mode in modes:
            if mode == "local":
                cpu0 = _cpu_s([me])
                points = await measure(local, broker, n, ks, min_turns, pcm, workdir / mode)
                results[mode] = (points, _cpu_s([me]) - cpu0, 0.0)
                continue
            ports = [free_port() for _ in range(int(mode))]
            peers = [PeerProcess(f"whisper-{i}", whisper_command(port, threads=2), port, workdir / f"whisper-{mode}-{i}.log")
                     for i, port in enumerate(ports)]
            async with running(*peers):
                servers = [psutil.Process(p.pid) for p in peers]
                pool = stt_pool([f"tcp://127.0.0.1:{port}" for port in ports], check_every_s=10.0)
                stt = RemoteSpeechToText(pool, request_timeout_s=120)
                models = Models(stt, local.llm, local.tts, [ModelStatus(kind="stt", name=f"{mode} server(s)",
                                                                        status="loaded")], [pool])
                cpu0, server0 = _cpu_s([me]), _cpu_s(servers)
                points = await measure(models, broker, n, ks, min_turns, pcm, workdir / mode)
                results[mode] = (points, _cpu_s([me]) - cpu0, _cpu_s(servers) - server0)
                print(f"mode {mode}: served per server {[s.served for s in pool.servers]}, retried {stt.retried}")
    finally:
        broker.stop()
    load_after = os.getloadavg()
    return report(results, n, min_turns, load_before, load_after, time.monotonic() - started)


def _label(mode: str) -> str:
    return "in the hub (today)" if mode == "local" else f"{mode} wyoming-faster-whisper server(s)"


def report(results: dict[str, tuple[list[Point], float, float]], n: int, min_turns: int,
           load_before: tuple[float, ...], load_after: tuple[float, ...], seconds: float) -> str:
    lines = ["| speech recognition | talking K | turns | p50 ms | p95 ms | turns/min | failed |",
             "|---|---|---|---|---|---|---|"]
    per_turn: dict[str, tuple[float, float, float]] = {}
    for mode, (points, hub_cpu, server_cpu) in results.items():
        for p in points:
            lines.append(f"| {_label(mode)} | {p.talkers} | {p.turns} | {statistics.median(p.latencies_ms):.0f} | "
                         f"{pct(p.latencies_ms, 0.95):.0f} | {p.turns_per_minute:.1f} | {p.failed} |")
        turns = sum(p.turns for p in points) + 1  # + the warm-up turn
        per_turn[mode] = (hub_cpu / turns, server_cpu / turns, max(p.turns_per_minute for p in points))
    lines.append("")
    for mode, (points, _, _) in results.items():
        lines.append(f"- {_label(mode)}: {knee(points)}")
    largest = {mode: max(points, key=lambda p: p.talkers) for mode, (points, _, _) in results.items()}
    lines += ["", "Where the knee moves: peak " + ", ".join(
        f"{per_turn[m][2]:.0f} turns/min" for m in results) + " and p95 at K = " + ", ".join(
        f"{largest[m].talkers}: {pct(largest[m].latencies_ms, 0.95):.0f} ms" for m in results) + " ("
        + " / ".join(_label(m) for m in results) + "). Taking whisper out of the hub process frees the hub's "
        "cores and event loop for piper and the turns; a second server on the same 2 cores cannot add compute, "
        "so it does not move the knee further here (on its own machine it would add that machine's cores)."]
    lines += ["", "| speech recognition | hub process CPU s/turn | STT servers CPU s/turn | peak turns/min here |",
              "|---|---|---|---|"]
    for mode, (hub_s, server_s, peak) in per_turn.items():
        lines.append(f"| {_label(mode)} | {hub_s:.2f} | {server_s:.2f} | {peak:.0f} |")
    lines += ["", paper_model(per_turn), "",
              f"N = {n} scripted satellites, rounds of K at once, at least {min_turns} turns per point after one "
              "warm-up turn; latency is end of speech -> first answer audio (includes the hub's end-of-speech "
              "window). Every server ran on the same 2 shared cores as the hub and the other helpers' work: a "
              "second server adds no compute here, so this measures the pool (spreading, its overhead) and moves "
              "the queue from the hub to the servers, not the gain of a second machine. TTS and the intent stay "
              "in the hub in every mode. The hub CPU column includes the simulated satellites and the monitor in "
              "this process.",
              f"{load_note(load_before, load_after)} (other work was running on this machine); {seconds:.0f} s in all."]
    return "\n".join(lines)


def paper_model(per_turn: dict[str, tuple[float, float, float]]) -> str:
    """A 30-room house at its peak vs N Pi 5 hubs + one model box, from the measured CPU per turn."""
    remote = next((v for k, v in per_turn.items() if k != "local"), None)
    local = per_turn.get("local")
    if remote is None or local is None:
        return "(paper model needs the local mode and one remote mode)"
    hub_s, server_s, _ = remote
    local_s = local[0]
    demand = [("evening, a third of the rooms in use, 1 turn a minute each", 10),
              ("morning rush, two thirds in use, 1.5 turns a minute each", 30),
              ("worst burst, every room, 2 turns in the same minute", 60)]
    pi_hub_tpm = 60 * 4 * PI5_PER_CORE * 0.5 / hub_s  # 4 cores, kept at 50 % for headroom
    pi_local_tpm = 60 * 4 * PI5_PER_CORE * 0.5 / local_s
    box_tpm = 60 * 8 * 0.5 / server_s  # an 8-core x86 model box running the same CPU whisper, at 50 %
    rows = ["Paper model, 30 rooms (fast-path turns; an LLM answer adds its generation on the model box):", "",
            "| peak | turns/min needed | Pi 5 hubs needed (hub side only) | model boxes needed (CPU whisper) |",
            "|---|---|---|---|"]
    for name, tpm in demand:
        rows.append(f"| {name} | {tpm} | {_need(tpm, pi_hub_tpm)} | {_need(tpm, box_tpm)} |")
    rows += ["",
             f"From the measured costs: a hub that sends speech recognition out spends {hub_s:.2f} CPU s per turn "
             f"(piper, the intent, Wyoming and MQTT), against {local_s:.2f} s with whisper inside; the server spends "
             f"{server_s:.2f} s. Assuming a Pi 5 core does {PI5_PER_CORE:g} of this machine's (an assumption, not "
             f"measured) and keeping CPUs at 50 %, one Pi 5 hub carries about {pi_hub_tpm:.0f} turns/min with "
             f"speech recognition on a model box (about {pi_local_tpm:.0f} with whisper on the Pi itself), and an "
             f"8-core x86 box running the same CPU whisper about {box_tpm:.0f} turns/min; a GPU runs whisper "
             "several times faster than that (not measured here). "
             f"For the morning rush ({demand[1][1]} turns/min) that is {_need(demand[1][1], pi_hub_tpm)} Pi 5 hub(s) "
             f"and {_need(demand[1][1], box_tpm)} model box(es); a second hub is for failover on top. "
             "These are CPU-time bounds: they assume the cores are free for this work (this machine's were shared, "
             f"see the load below; the measured peak here was {max(v[2] for v in per_turn.values()):.0f} turns/min on "
             "2 cores) and that enough whisper workers run at once (one utterance at a time per wyoming-faster-whisper server, so "
             "a box needs a server or worker per utterance it should transcribe at the same time)."]
    return "\n".join(rows)


def _need(turns_per_minute: float, capacity: float) -> int:
    """Machines of ``capacity`` turns/min needed for ``turns_per_minute`` (at least one)."""
    return max(1, math.ceil(turns_per_minute / max(capacity, 1e-9)))
