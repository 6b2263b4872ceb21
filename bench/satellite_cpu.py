"""Satellite CPU and memory per minute of idle room audio: ours vs. the REAL wyoming-satellite + wyoming-openwakeword.

Processes, measured the same way on both sides: the same room audio (quiet noise with a few seconds
of non-wake speech each minute) paced in real time, a Home-Assistant-like client connected to each
satellite (it sends run-satellite, then only listens), and psutil reading the CPU time and RSS of
each process over the same wall-clock window, both sides running side by side in the same minutes.

- theirs: ``wyoming-satellite==1.0.0`` (.venv-peers/satellite) with ``--wake-uri`` pointing at
  ``wyoming-openwakeword==1.8.2`` (.venv-peers/openwakeword, tflite-runtime 2.14.0), hey_jarvis; the
  microphone is ``--mic-command`` running ``python -m bench.peers pace FILE --loop`` (a real-time
  pacer standing in for arecord; its own CPU is shown apart and not counted).
- ours: ``python -m satellite`` with the file backend (``--audio-realtime``, it paces itself and that
  cost is counted), default settings: WebRTC VAD, wake model gated by VAD, echo cancellation.

The in-process numbers (same process, audio as fast as possible, ``time.process_time``) are kept
below: the wake model on every frame vs. our gated pipeline.

    .venv/bin/python -m bench.satellite_cpu [--minutes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from wyoming.asr import Transcript
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite

from bench import peers
from bench.results import write_result
from common.pcm import resample_pcm
from satellite.audio.backends import BLOCK_BYTES
from satellite.dsp.linear_echo import LinearEchoCanceller
from satellite.dsp.vad import WebRtcSpeechDetector
from satellite.dsp.wake import WakeDetector

WARMUP_S = 8.0


def room_audio(minutes: float, seed: int = 0) -> bytes:
    """Quiet room noise with a few seconds of (non-wake) speech each minute."""
    from common.models import piper_voice_path
    from hub.pipeline.tts import TextToSpeech

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


# -- in process ------------------------------------------------------------------------------------------------------

def cpu_seconds(audio: bytes, gated: bool, echo: bool) -> float:
    wake = WakeDetector("hey_jarvis", 0.5, 2.0, gated=gated)
    vad = WebRtcSpeechDetector(2)
    aec = LinearEchoCanceller() if echo else None  # the satellite's default canceller
    # A stand-in answer for the loudspeaker: the same audio reversed and 30 dB louder, so the
    # canceller adapts on every frame as it does while an answer plays (silence would skip it).
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32)[::-1] * 31.6
    answer = np.clip(samples, -32768, 32767).astype(np.int16).tobytes()
    started = time.process_time()
    for offset in range(0, len(audio) - BLOCK_BYTES + 1, BLOCK_BYTES):
        block = audio[offset:offset + BLOCK_BYTES]
        if aec is not None:
            block = aec.process(block, answer[offset:offset + BLOCK_BYTES])
        speech = vad.is_speech(block)
        wake.process(block, offset / 32000, speech)
    return time.process_time() - started


IN_PROCESS = (("baseline: wake model on every frame", False, False),
              ("ours while playing: AEC + VAD, wake model gated", True, True),
              ("ours idle (AEC skipped while nothing plays): VAD, wake gated", True, False))


def in_process(audio: bytes, minutes: float, repeats: int) -> dict[str, float]:
    rows = {}
    for name, gated, echo in IN_PROCESS:
        runs = [cpu_seconds(audio, gated, echo) / minutes for _ in range(repeats)]
        rows[name] = statistics.median(runs)
        print(f"in process, {name}: {rows[name]:.2f} CPU s per minute of audio (runs {[round(r, 2) for r in runs]})")
    return rows


# -- processes -------------------------------------------------------------------------------------------------------

class HomeAssistantStandIn:
    """Connects to a satellite like Home Assistant and sends run-satellite, then listens.

    A wake (``run-pipeline``) is counted and answered like an empty command: after 2 s an empty
    transcript sends the satellite back to waiting for its wake word.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.wakes = 0
        self._client: AsyncTcpClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._replies: set[asyncio.Task[None]] = set()

    async def start(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                client = AsyncTcpClient("127.0.0.1", self.port)
                await client.connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        self._client = client
        await client.write_event(Describe().event())
        await client.write_event(RunSatellite().event())
        self._task = asyncio.create_task(self._read(client), name=f"ha-stand-in-{self.port}")

    async def _read(self, client: AsyncTcpClient) -> None:
        try:
            while (event := await client.read_event()) is not None:
                if RunPipeline.is_type(event.type):
                    self.wakes += 1
                    reply = asyncio.create_task(self._empty_transcript(client))
                    self._replies.add(reply)
                    reply.add_done_callback(self._replies.discard)
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()

    @staticmethod
    async def _empty_transcript(client: AsyncTcpClient) -> None:
        await asyncio.sleep(2.0)
        with contextlib.suppress(Exception):
            await client.write_event(Transcript(text="").event())

    async def close(self) -> None:
        for task in (self._task, *self._replies):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


class Meter:
    """CPU seconds and peak RSS of a set of processes over a window, sampled with psutil."""

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        self.processes = processes
        self.cpu_start: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.rss_peak: dict[str, float] = dict.fromkeys(processes, 0.0)

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    def start(self) -> None:
        self.cpu_start = {name: self._cpu(p) for name, p in self.processes.items()}
        self.sample()

    def sample(self) -> None:
        for name, process in self.processes.items():
            self.rss_peak[name] = max(self.rss_peak[name], process.memory_info().rss / 2**20)

    def stop(self) -> None:
        self.sample()
        self.cpu = {name: self._cpu(p) - self.cpu_start[name] for name, p in self.processes.items()}


@dataclass
class Measured:
    cpu: dict[str, float]
    """CPU seconds over the window, by process."""
    rss: dict[str, float]
    """Peak RSS, MB, by process."""
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wakes_theirs: int
    wakes_ours: int


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(pcm)


async def processes(audio: bytes, minutes: float, work: Path) -> Measured:
    window_s = minutes * 60
    raw = work / "room.raw"
    raw.write_bytes(audio)
    # Ours reads a WAV once: make it long enough for the warm-up and the window (the same minute, repeated).
    repeats = int((WARMUP_S + window_s + 30) // window_s) + 1
    write_wav(work / "room.wav", audio * repeats)
    wake_port, theirs_port, ours_port = peers.free_port(), peers.free_port(), peers.free_port()
    openwakeword = peers.PeerProcess("wyoming-openwakeword", peers.openwakeword_command(wake_port), wake_port,
                                     work / "wyoming-openwakeword.log")
    mic = " ".join(peers.pace_command(raw, loop=True))
    theirs = peers.PeerProcess("wyoming-satellite", [
        str(peers.peer_python("satellite")), "-m", "wyoming_satellite", "--name", "theirs", "--area", "bench",
        "--uri", f"tcp://127.0.0.1:{theirs_port}", "--no-zeroconf", "--mic-command", mic,
        "--wake-uri", f"tcp://127.0.0.1:{wake_port}", "--wake-word-name", "hey_jarvis",
    ], theirs_port, work / "wyoming-satellite.log")
    ours = peers.PeerProcess("hearth satellite", [
        sys.executable, "-m", "satellite", "--id", "ours", "--wyoming-host", "127.0.0.1",
        "--wyoming-port", str(ours_port), "--no-mqtt-enabled", "--audio-backend", "file",
        "--audio-input-file", str(work / "room.wav"), "--audio-realtime", "--audio-leading-silence-s", "0",
        "--wake-model", "hey_jarvis", "--log-level", "WARNING",
    ], ours_port, work / "hearth-satellite.log")
    ha_theirs, ha_ours = HomeAssistantStandIn(theirs_port), HomeAssistantStandIn(ours_port)
    async with peers.running(openwakeword, theirs, ours, timeout=120):
        await ha_theirs.start()
        await ha_ours.start()
        await asyncio.sleep(WARMUP_S)
        satellite = psutil.Process(theirs.pid)
        children = satellite.children(recursive=True)
        if not children:
            raise RuntimeError(f"wyoming-satellite started no mic command: {theirs.log_tail()}")
        meter = Meter({"wyoming-satellite": satellite, "wyoming-openwakeword": psutil.Process(openwakeword.pid),
                       "pacer (mic command)": children[0], "ours": psutil.Process(ours.pid)})
        load_before = os.getloadavg()
        meter.start()
        deadline = time.monotonic() + window_s
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(2.0, left))
            meter.sample()
        meter.stop()
        load_after = os.getloadavg()
        await ha_theirs.close()
        await ha_ours.close()
        for peer in (openwakeword, theirs, ours):
            if peer.process is not None and peer.process.returncode is not None:
                raise RuntimeError(f"{peer.name} died during the window: {peer.log_tail()}")
    return Measured(meter.cpu, meter.rss_peak, load_before, load_after, ha_theirs.wakes, ha_ours.wakes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="audio (and measuring window) length, minutes")
    parser.add_argument("--repeats", type=int, default=3, help="in-process runs per pipeline")
    args = parser.parse_args()
    audio = room_audio(args.minutes)
    work = Path(tempfile.mkdtemp(prefix="hearth-satcpu-"))
    try:
        measured = asyncio.run(processes(audio, args.minutes, work))
    except peers.PeerMissingError as err:
        raise SystemExit(f"bench.satellite_cpu: {err}") from None
    rows = in_process(audio, args.minutes, args.repeats)
    write_result("satellite_cpu", report(measured, rows, args), command=f"python -m bench.satellite_cpu "
                 f"--minutes {args.minutes:g} --repeats {args.repeats}")


def report(measured: Measured, rows: dict[str, float], args: argparse.Namespace) -> str:
    cpu, rss = measured.cpu, measured.rss
    load_before, load_after = measured.load_before, measured.load_after
    wakes_theirs, wakes_ours = measured.wakes_theirs, measured.wakes_ours
    per_min = {name: value / args.minutes for name, value in cpu.items()}
    theirs_cpu = per_min["wyoming-satellite"] + per_min["wyoming-openwakeword"]
    theirs_rss = rss["wyoming-satellite"] + rss["wyoming-openwakeword"]
    ours_cpu, ours_rss = per_min["ours"], rss["ours"]
    print(f"processes: theirs {theirs_cpu:.2f} CPU s/min, {theirs_rss:.0f} MB; ours {ours_cpu:.2f} CPU s/min, "
          f"{ours_rss:.0f} MB")

    def row(name: str, cpu_min: float, mb: float, ratio_cpu: str, ratio_rss: str) -> str:
        return f"| {name} | {cpu_min:.2f} | {cpu_min / 60 * 100:.1f} % | {mb:.0f} | {ratio_cpu} | {ratio_rss} |"

    base = rows[IN_PROCESS[0][0]]
    idle = rows[IN_PROCESS[2][0]]
    lines = [
        "How to run: `.venv/bin/python -m bench.satellite_cpu` (peers installed by scripts/install-peers.sh on first "
        "use; about 4 minutes).",
        "",
        f"**Processes** (psutil, user + system CPU over the same {args.minutes:g}-minute wall-clock window, both "
        "sides side by side, audio paced in real time, a Home-Assistant-like client connected to each; RSS is "
        "the peak sampled every 2 s):",
        "",
        "| process(es) | CPU s per minute of audio | of one core | peak RSS MB | CPU ours / theirs "
        "| RSS ours / theirs |",
        "|---|---|---|---|---|---|",
        row("wyoming-satellite 1.0.0", per_min["wyoming-satellite"], rss["wyoming-satellite"], "", ""),
        row("wyoming-openwakeword 1.8.2 (hey_jarvis, tflite)", per_min["wyoming-openwakeword"],
            rss["wyoming-openwakeword"], "", ""),
        row("**theirs: both**", theirs_cpu, theirs_rss, "1.00", "1.00"),
        row("**ours: `python -m satellite`** (VAD, gated wake, AEC, pacing its own file)", ours_cpu, ours_rss,
            f"**{ours_cpu / theirs_cpu:.2f}**", f"**{ours_rss / theirs_rss:.2f}**"),
        row("(theirs' mic command: the real-time pacer, not counted)", per_min["pacer (mic command)"],
            rss["pacer (mic command)"], "", ""),
        "",
        f"Wakes (run-pipeline) during the window (the audio holds no wake word): theirs {wakes_theirs}, ours {wakes_ours}. "
        f"Machine load (1/5/15 min) {' / '.join(f'{x:.2f}' for x in load_before)} before the window, "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} after, on 2 cores shared with other work; both sides ran in "
        "the same minutes, so compare the ratios.",
        "",
        f"**In process** (the pipelines alone, same audio as fast as possible, `time.process_time`, median of "
        f"{args.repeats} runs):",
        "",
        "| pipeline | CPU s per minute of audio | of one core | ratio to baseline |",
        "|---|---|---|---|",
        *[f"| {name} | {value:.2f} | {value / 60 * 100:.1f} % | {value / base:.2f} |" for name, value in rows.items()],
        "",
        f"Audio: {args.minutes:g} min of quiet room noise (about -60 dBFS) with 2.6 s of non-wake speech per minute. "
        f"In process, idle, ours uses {idle / base:.2f}x the CPU of the wake model on every frame (what "
        "wyoming-openwakeword does).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
