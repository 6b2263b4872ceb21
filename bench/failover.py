"""Hub failover: SIGKILL the hub that owns a satellite; how long until another hub owns it, drives it, answers.

Two real hub processes (``python -m hub``, ``[hubs] ownership`` on, real models) and one real satellite
(``satellite.app.SatelliteApp``, file audio backend) on a real Mosquitto from the repository's config.
Each trial kills the current owner with SIGKILL and measures, on one clock:

- **leased**: kill -> the other hub's lease (``conversation/kitchen/owner``) reaches a monitor;
- **linked**: kill -> the satellite is driven again (its Wyoming link up, ``run-satellite`` received);
- **answered**: kill -> the turn report of the next wake, said the moment the satellite is driven again
  ("Hey Jarvis. What time is it?" fed as its microphone; its own wake model hears it).

The killed hub is restarted and becomes the standby for the next trial (which kills the other one).

    .venv/bin/python -m bench.failover [--trials 20]
    .venv/bin/python -m bench.failover --freeze [--trials 3]

Writes the "failover" section of docs/BENCHMARKS.md. ``--freeze`` stops the owner with SIGSTOP instead
(a hub whose machine hangs or loses its network: no TCP close, so the broker waits for 1.5 keepalives
and the satellite refuses the new hub until its old driver has been silent for 60 s) and writes
"failover-freeze".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

from bench.latency import pct
from bench.results import load_note, write_result
from common.broker import Role
from common.local_broker import DEFAULT_DEVICES, MosquittoBroker, free_port
from protocol.payloads import SatellitePhase
from satellite.app import SatelliteApp
from satellite.audio.backends import FileBackend
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import SpeechMaker
from testbed.hub_processes import House, driven, start_hub, wake_and_ask
from testbed.hub_rig import wait_until

HUBS = ("hub", "hub-b")


async def trial(house: House, app: SatelliteApp, procs: dict[str, asyncio.subprocess.Process], pcm: bytes,
                workdir: Path, broker: MosquittoBroker, *, freeze: bool = False) -> tuple[float, float, float, float]:
    victim = house.owner("kitchen")
    assert victim in HUBS, victim
    survivor = next(h for h in HUBS if h != victim)
    leases = len(house.leases)
    reports = len(house.reports)
    procs[victim].send_signal(signal.SIGSTOP if freeze else signal.SIGKILL)
    killed = time.monotonic()
    if not freeze:
        await procs[victim].wait()
    limit = 150 if freeze else 30
    await wait_until(lambda: any(m.hub == survivor for _, m in house.leases[leases:]), limit)
    leased = next(t for t, m in house.leases[leases:] if m.hub == survivor) - killed
    frozen_peer = app.core._peer
    await wait_until(lambda: driven(app) and app.core._peer is not frozen_peer if freeze else driven(app), limit)
    await wait_until(lambda: app.core.phase is SatellitePhase.IDLE, 30)
    linked = time.monotonic() - killed
    if freeze:  # done with the frozen one
        procs[victim].send_signal(signal.SIGKILL)
        await procs[victim].wait()
    assert isinstance(app.backend, FileBackend), app.backend
    app.backend.feed(pcm)  # "Hey Jarvis. What time is it?": the satellite's wake model hears it
    await wait_until(lambda: len(house.reports) > reports, 60)
    answered = time.monotonic() - killed
    report = house.reports[-1]
    turn_ms = report.timings.first_audio_ms or 0.0
    # The killed hub comes back as the standby; the next trial kills the other one.
    procs[victim] = await start_hub(workdir, broker, victim)
    await wait_until(lambda: house.hubs.get(victim) == "online", 90)
    await asyncio.sleep(1.0)  # past its settle time: it has seen the live lease
    await wait_until(lambda: app.core.phase is SatellitePhase.IDLE, 30)
    return leased, linked, answered, turn_ms


async def run(trials: int, workdir: Path, *, freeze: bool = False) -> str:
    load_before = os.getloadavg()
    started = time.monotonic()
    broker = MosquittoBroker(workdir / "mqtt", devices={**DEFAULT_DEVICES, "hub-b": Role.HUB})
    broker.prepare()
    broker.start()
    procs: dict[str, asyncio.subprocess.Process] = {}
    rows: list[tuple[float, float, float, float]] = []
    house = House(broker)
    try:
        from common.models import piper_voice_path
        from hub.pipeline.tts import TextToSpeech

        pcm = wake_and_ask(SpeechMaker(TextToSpeech(piper_voice_path())))
        async with house.link.running():
            app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate({
                "id": "kitchen", "area": "Kitchen", "wyoming": {"host": "127.0.0.1", "port": free_port()},
                "mqtt": broker.settings("kitchen").model_dump(),
                "audio": {"backend": "file", "realtime": True, "output_file": str(workdir / "kitchen.wav")},
            }))
            await app.start()
            try:
                for hub_id in HUBS:
                    procs[hub_id] = await start_hub(workdir, broker, hub_id)
                await wait_until(lambda: house.owner("kitchen") is not None and driven(app), 120)
                await wait_until(lambda: all(house.hubs.get(h) == "online" for h in HUBS), 120)
                await asyncio.sleep(1.0)
                for index in range(trials):
                    row = await trial(house, app, procs, pcm, workdir, broker, freeze=freeze)
                    rows.append(row)
                    print(f"trial {index + 1}: leased {row[0]:.2f} s, linked {row[1]:.2f} s, "
                          f"answered {row[2]:.2f} s (that turn's end of speech -> audio {row[3]:.0f} ms)", flush=True)
            finally:
                await app.close()
                for proc in procs.values():
                    if proc.returncode is None:
                        proc.terminate()
                        await proc.wait()
    finally:
        broker.stop()
    load_after = os.getloadavg()
    if freeze:
        return freeze_report(rows, load_before, os.getloadavg(), time.monotonic() - started)
    lines = ["| kill -> | p50 s | p95 s | max s |", "|---|---|---|---|"]
    names = ("other hub holds the lease", "satellite driven again", "next conversation answered (turn report)")
    for column, name in enumerate(names):
        values = [r[column] for r in rows]
        lines.append(f"| {name} | {statistics.median(values):.2f} | {pct(values, 0.95):.2f} | {max(values):.2f} |")
    turn = [r[3] for r in rows]
    lines += [
        "",
        f"{len(rows)} trials: two real hub processes (`python -m hub`, `[hubs] ownership`, default claim delay "
        "0.3-0.6 s and settle 0.5 s, real models), one real satellite (file audio), one Mosquitto from the "
        "repository's config. Each trial SIGKILLs the satellite's owner; the broker publishes its last will at once "
        "(closed TCP connection), the other hub claims, waits out the settle time and connects; the satellite "
        "already saw its old hub's connection close, so it accepts the new one at once. The next wake is "
        "said the moment the satellite is driven again (\"Hey Jarvis. What time is it?\" as its microphone, heard by "
        f"its own wake model, 2 s of silence after); that turn's own end of speech -> first audio was p50 {statistics.median(turn):.0f} ms, and its report comes "
        "once the answer has played, so \"answered\" holds the question, the end-of-speech window and the answer. "
        "The killed hub is restarted after each trial and stays standby (it never took the satellite back). "
        "A hub that hangs or loses power leaves its connections open: that case is \"failover-freeze\" (about 60 s).",
        f"{load_note(load_before, load_after)}; {time.monotonic() - started:.0f} s in all.",
    ]
    return "\n".join(lines)


def freeze_report(rows: list[tuple[float, float, float, float]], load_before: tuple[float, ...],
                  load_after: tuple[float, ...], seconds: float) -> str:
    lines = ["| hub frozen (SIGSTOP) -> | p50 s | max s |", "|---|---|---|"]
    names = ("other hub holds the lease", "satellite driven again", "next conversation answered (turn report)")
    for column, name in enumerate(names):
        values = [r[column] for r in rows]
        lines.append(f"| {name} | {statistics.median(values):.2f} | {max(values):.2f} |")
    lines += ["", f"{len(rows)} trials, as in \"failover\" but the owner is frozen, not killed: its TCP connections stay "
              "open, as when a hub's machine hangs or drops off the network. The broker publishes its last will after "
              "1.5 keepalives ([mqtt] keepalive_s 30: 45 s); the new owner then connects, but the satellite refuses it "
              "(already_driven) until the frozen hub has been silent for its 60 s limit, and the hub's link retries "
              "with backoff up to 5 s. Lower both limits for a faster takeover in this case.",
              f"{load_note(load_before, load_after)}; {seconds:.0f} s in all."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=None, help="20 (kill) or 3 (--freeze) by default")
    parser.add_argument("--freeze", action="store_true", help="SIGSTOP the owner instead of SIGKILL")
    args = parser.parse_args()
    trials = args.trials or (3 if args.freeze else 20)
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-failover-"))
    workdir.chmod(0o755)  # mosquitto drops root for its own user
    try:
        body = asyncio.run(run(trials, workdir, freeze=args.freeze))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(body)
    name = "failover-freeze" if args.freeze else "failover"
    write_result(name, body, command=f"python -m bench.failover{' --freeze' if args.freeze else ''} --trials {trials}")


if __name__ == "__main__":
    main()
