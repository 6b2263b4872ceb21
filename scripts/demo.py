"""End-to-end demo on the embedded defaults (``make demo``).

Starts a throwaway Mosquitto from the repository's ``mosquitto.conf``, the hub and one
satellite as real processes. The satellite's microphone is a WAV file saying "Hey Jarvis,
what time is it?" and then "Hey Jarvis, turn on the kitchen light." (synthesised with the
shipped piper voice unless ``--wav`` is given); its speaker is ``out/answer.wav``. A small
Zigbee2MQTT-like bulb on the same broker publishes Home Assistant discovery and its state; the
hub finds it, switches it and says so once the bulb reports its new state. The demo waits for
the hub's turn reports on MQTT and prints the transcripts, the answers, the per-stage timings
and the bulb's state change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import wave
from pathlib import Path

from rich.console import Console
from rich.table import Table

if __package__ in (None, ""):
    # `python scripts/demo.py` (the file, not the module) puts scripts/ on the path instead of the repository.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.broker import Role  # noqa: E402
from common.local_broker import DEFAULT_DEVICES, REPO, MosquittoBroker, free_port  # noqa: E402
from common.mqtt import MqttLink  # noqa: E402
from protocol import payloads  # noqa: E402
from protocol.topics import ConversationTopic, SatelliteTopic  # noqa: E402
from testbed.toml_config import mqtt_table, write_toml  # noqa: E402

console = Console()
SATELLITE_ID = "kitchen"
PROMPT = "Hey Jarvis. What time is it?"
DEVICE_PROMPT = "Hey Jarvis. Turn on the kitchen light."
GAP_S = 12
"""Silence between the two requests: the first answer is heard out before the second wake."""


def synthesise_prompt(path: Path, prompts: tuple[str, ...] = (PROMPT, DEVICE_PROMPT)) -> None:
    """Write the spoken prompts as a 16 kHz mono WAV with the shipped piper voice."""
    from common.models import piper_voice_path
    from hub.pipeline.tts import TextToSpeech, resample_pcm

    async def _render(text: str) -> bytes:
        tts = TextToSpeech(piper_voice_path())
        chunks = [chunk async for chunk in tts.synthesize(text, deterministic=True)]
        return resample_pcm(b"".join(chunks), tts.audio_format.rate, 16000)

    silence = b"\x00\x00" * 16000
    audio = silence
    for index, text in enumerate(prompts):
        audio += asyncio.run(_render(text)) + silence * (GAP_S if index < len(prompts) - 1 else 3)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(audio)


async def run_demo(wav: Path, answer: Path, workdir: Path, timeout_s: float, turns: int = 2) -> int:
    from testbed.mqtt_test_devices import DeviceBridge, ZigbeeBulb

    broker = MosquittoBroker(workdir / "mosquitto", devices={**DEFAULT_DEVICES, "zigbee2mqtt": Role.DEVICE_BRIDGE})
    broker.prepare()
    broker.start()
    bulb = ZigbeeBulb("kitchen_light", "Kitchen light", "Kitchen")
    bulbs = DeviceBridge(broker.settings("zigbee2mqtt"), [bulb], client_id="zigbee2mqtt")
    sat_port = free_port()
    hub_conf, sat_conf = workdir / "hub.toml", workdir / "satellite.toml"
    write_toml(hub_conf, {
        "data_dir": str(workdir / "hub-data"),
        "satellites": [f"tcp://127.0.0.1:{sat_port}"],
        "mqtt": mqtt_table(broker, "hub"),
        "wyoming": {"host": "127.0.0.1", "port": free_port()},
    })
    write_toml(sat_conf, {
        "id": SATELLITE_ID, "name": "Kitchen satellite", "area": "Kitchen",
        "wyoming": {"host": "127.0.0.1", "port": sat_port},
        "audio": {"backend": "file", "input_file": str(wav), "output_file": str(answer), "realtime": True},
        "mqtt": mqtt_table(broker, SATELLITE_ID),
    })
    monitor = MqttLink(broker.settings("monitor"), "demo-monitor")
    reports: asyncio.Queue[payloads.TurnReport] = asyncio.Queue()
    phases: list[str] = []

    async def on_turn(topic: str, report: payloads.TurnReport) -> None:
        await reports.put(report)

    async def on_state(topic: str, state: payloads.ConversationState) -> None:
        if not phases or phases[-1] != state.phase.value:
            phases.append(state.phase.value)

    monitor.subscribe(monitor.topics.conversation(SATELLITE_ID, ConversationTopic.TURN), on_turn)
    monitor.subscribe(monitor.topics.conversation(SATELLITE_ID, ConversationTopic.STATE), on_state)
    satellite_idle = asyncio.Event()

    async def on_sat_state(topic: str, state: payloads.SatelliteState) -> None:
        if state.phase is payloads.SatellitePhase.IDLE:
            satellite_idle.set()
        else:
            satellite_idle.clear()

    monitor.subscribe(monitor.topics.satellite(SATELLITE_ID, SatelliteTopic.STATE), on_sat_state)
    link_task = asyncio.create_task(monitor.run(), name="demo-monitor")
    bulb_task = asyncio.create_task(bulbs.link.run(), name="demo-bulb")
    bulbs.publish_discovery()
    bulb_before = dict(bulb.state)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    processes: list[asyncio.subprocess.Process] = []
    try:
        console.print("[bold]starting[/] hub and satellite (models load in a few seconds)")
        for name, conf in (("hub", hub_conf), ("satellite", sat_conf)):
            log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", name, "--config", str(conf), stdout=log, stderr=log, cwd=str(REPO)))
            log.close()
        shown: list[payloads.TurnReport] = []
        for _ in range(turns):
            try:
                report = await asyncio.wait_for(reports.get(), timeout_s)
            except TimeoutError:
                console.print(f"[red]no answer within {timeout_s:.0f} s[/]; logs in {logs}")
                for name in ("hub", "satellite"):
                    console.print(f"--- {name}.log (last lines)")
                    console.print((logs / f"{name}.log").read_text()[-3000:], markup=False)
                return 1
            # The report is sent when the last audio left the hub; wait until the satellite played it.
            await asyncio.sleep(0.2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(satellite_idle.wait(), 30)
            show(report, phases, answer)
            phases.clear()
            shown.append(report)
            if report.actions:
                show_device(report, bulb_before, bulb.state)
        if turns > 1 and not any(a.result == "confirmed" for r in shown for a in r.actions):
            # Said, not done: a misheard command is answered (the person is asked again), so the run is
            # not a failure of the pipeline, but it must not pass unnoticed either.
            console.print("[red]the kitchen light was not switched[/] (see the transcript above)")
        return 0 if all(r.outcome is payloads.TurnOutcome.DONE for r in shown) else 1
    finally:
        bulb_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bulb_task
        for proc in processes:
            if proc.returncode is None:
                proc.terminate()
        for proc in processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        link_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await link_task
        broker.stop()


def show(report: payloads.TurnReport, phases: list[str], answer: Path) -> None:
    console.print(f"[bold]heard:[/]   {report.transcript!r}")
    console.print(f"[bold]answer:[/]  {report.response!r}  (by {report.handler})")
    console.print(f"[bold]states:[/]  {' -> '.join(phases)}")
    table = Table(title="timings, ms after the end of speech")
    table.add_column("stage")
    table.add_column("ms", justify="right")
    for stage, value in report.timings.model_dump().items():
        table.add_row(stage.removesuffix("_ms").replace("_", " "), "-" if value is None else f"{value:.0f}")
    console.print(table)
    if answer.exists():
        with wave.open(str(answer)) as played:
            seconds = played.getnframes() / played.getframerate()
        console.print(f"[bold]spoken answer:[/] {answer} ({seconds:.1f} s of audio)")


def show_device(report: payloads.TurnReport, before: dict[str, object], after: dict[str, object]) -> None:
    for action in report.actions:
        console.print(f"[bold]device:[/]  {action.entity} {action.service}: {action.result} in {action.ms:.0f} ms")
    console.print(f"[bold]bulb:[/]    zigbee2mqtt/kitchen_light state {before.get('state')} -> {after.get('state')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--wav", type=Path, help="microphone input (any WAV); default: a synthesised prompt")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "answer.wav", help="where the spoken answer goes")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-demo-"))
    workdir.chmod(0o755)
    try:
        wav = args.wav
        if wav is None:
            wav = args.out.parent / "prompt.wav"
            console.print(f"[bold]synthesising[/] {PROMPT!r} and {DEVICE_PROMPT!r} -> {wav}")
            synthesise_prompt(wav)
        return asyncio.run(run_demo(wav.resolve(), args.out.resolve(), workdir, args.timeout,
                                    turns=1 if args.wav else 2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
