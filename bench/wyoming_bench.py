"""Our hub's Wyoming STT+TTS service vs. wyoming-faster-whisper and wyoming-piper, measured by wyoming-bench.

``wyoming-bench==2026.10.0`` (a third-party tool, .venv-peers/bench) runs against three real servers
started here, all on the same model files, offline:

- ours: ``python -m hub`` with its ``[wyoming]`` service on a free loopback port (MQTT off, no satellites);
- ``wyoming-faster-whisper==3.8.1`` on the whisper tiny.en folder (int8, beam 1, 2 threads, like ours);
- ``wyoming-piper==2.5.2`` on the en_US-joe-medium voice.

The STT corpus is made by ``wyoming-bench generate-corpus`` with wyoming-piper (third-party audio,
the same for both STT servers); then ``wyoming-bench stt`` and ``wyoming-bench tts`` each get both
servers in one run. Medians, p95 and ratios are read from its per-server reports.

    scripts/install-peers.sh && .venv/bin/python -m bench.wyoming_bench [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from pathlib import Path

from bench import peers
from bench.results import write_result

STT_TEXTS = [
    "What time is it?",
    "Turn on the lights in the kitchen.",
    "Set a timer for ten minutes.",
    "What is the capital of France?",
    "Tell me about the moon.",
    "Remind me to call my mother tomorrow morning.",
]
TTS_TEXTS = [
    "It's five o'clock.",
    "The capital of France is Paris.",
    "The moon is Earth's only natural satellite. It formed about four and a half billion years ago. "
    "Its gravity drives the tides.",
]


async def bench_tool(*args: str, log: Path) -> str:
    """Run wyoming-bench; returns its stdout (also kept in ``log``)."""
    process = await asyncio.create_subprocess_exec(
        str(peers.peer_bin("bench", "wyoming-bench")), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    await asyncio.to_thread(log.write_text, text)
    if process.returncode != 0:
        raise RuntimeError(f"wyoming-bench {args[0]} failed ({process.returncode}):\n{text[-3000:]}")
    return text


_ROW = re.compile(r"^\s+(Total \(ms\)|TTFT \(ms\)|RTF \(x\))\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def parse_reports(text: str) -> dict[str, dict[str, dict[str, object]]]:
    """wyoming-bench's per-server blocks -> {server label: {mode: {metric: {stat: value}, 'accuracy': str}}}."""
    servers: dict[str, dict[str, dict[str, object]]] = {}
    server: str | None = None
    mode: str | None = None
    for line in text.splitlines():
        if line.startswith("Server: "):
            server, mode = line.removeprefix("Server: ").strip(), None
            servers[server] = {}
        elif server is not None and (m := re.match(r"^\[(\w+)\] ok=(\d+) fail=(\d+)", line)):
            mode = m.group(1)
            servers[server][mode] = {"ok": int(m.group(2)), "fail": int(m.group(3))}
        elif server is not None and mode is not None and (m := _ROW.match(line)):
            values = [None if v == "n/a" else float(v) for v in m.groups()[1:]]
            servers[server][mode][m.group(1)] = dict(zip(("min", "mean", "median", "p95", "max"), values, strict=True))
        elif server is not None and mode is not None and line.strip().startswith("Accuracy"):
            servers[server][mode]["accuracy"] = line.strip().removeprefix("Accuracy").strip()
        elif line.startswith("====="):
            server, mode = None, None
    return servers


def find(reports: dict[str, dict[str, dict[str, object]]], port: int) -> dict[str, dict[str, object]]:
    for label, modes in reports.items():
        if f":{port}" in label:
            return modes
    return {}


def stat(modes: dict[str, dict[str, object]], mode: str, metric: str, which: str) -> float | None:
    values = modes.get(mode, {}).get(metric)
    return values.get(which) if isinstance(values, dict) else None


def cell(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    return "n/a" if ours is None or not theirs else f"{ours / theirs:.2f}"


async def run(rounds: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="hearth-wyoming-bench-"))
    hub_port, stt_port, tts_port = peers.free_port(), peers.free_port(), peers.free_port()
    (work / "piper-downloads").mkdir()
    hub = peers.PeerProcess("hearth hub", [
        sys.executable, "-m", "hub", "--no-mqtt-enabled", "--wyoming-enabled", "--wyoming-host", "127.0.0.1",
        "--wyoming-port", str(hub_port), "--data-dir", str(work / "hub"), "--log-level", "WARNING",
    ], hub_port, work / "hub.log")
    whisper = peers.PeerProcess("wyoming-faster-whisper", peers.whisper_command(stt_port), stt_port,
                                work / "wyoming-faster-whisper.log")
    piper = peers.PeerProcess("wyoming-piper", peers.piper_command(tts_port, work / "piper-downloads"), tts_port,
                              work / "wyoming-piper.log")
    corpus = work / "corpus"
    (work / "stt-texts.txt").write_text("\n".join(STT_TEXTS) + "\n")
    (work / "tts-texts.txt").write_text("\n".join(TTS_TEXTS) + "\n")
    common = ["--rounds", str(rounds), "--warmup", "1", "--timeout", "120"]
    async with peers.running(hub, whisper, piper):
        load_before = os.getloadavg()
        await bench_tool("generate-corpus", "--out", str(corpus), "--texts-file", str(work / "stt-texts.txt"),
                         f"127.0.0.1:{tts_port}", log=work / "generate-corpus.txt")
        stt_out = await bench_tool("stt", "--corpus", str(corpus), "--mode", "both",
                                   "--config", '{"language": "en"}', *common,
                                   f"127.0.0.1:{hub_port}", f"127.0.0.1:{stt_port}", log=work / "stt.txt")
        tts_out = await bench_tool("tts", "--mode", "both", "--texts-file", str(work / "tts-texts.txt"), *common,
                                   f"127.0.0.1:{hub_port}", f"127.0.0.1:{tts_port}", log=work / "tts.txt")
        load_after = os.getloadavg()
    print(stt_out)
    print(tts_out)
    print(f"raw wyoming-bench output in {work}")
    return report(stt_out, tts_out, hub_port, stt_port, tts_port, rounds, load_before, load_after)


def report(stt_out: str, tts_out: str, hub_port: int, stt_port: int, tts_port: int, rounds: int,
           load_before: tuple[float, float, float], load_after: tuple[float, float, float]) -> str:
    stt, tts = parse_reports(stt_out), parse_reports(tts_out)
    ours_stt, theirs_stt = find(stt, hub_port), find(stt, stt_port)
    ours_tts, theirs_tts = find(tts, hub_port), find(tts, tts_port)
    lines = [
        "How to run: `scripts/install-peers.sh && .venv/bin/python -m bench.wyoming_bench` (about 4 minutes).",
        "",
        "`wyoming-bench==2026.10.0` against our hub's Wyoming service (`python -m hub`, `[wyoming]` on) and the "
        "real `wyoming-faster-whisper==3.8.1` / `wyoming-piper==2.5.2`, same model files (whisper tiny.en int8, "
        "beam 1, 2 threads on both; piper en_US-joe-medium), one `wyoming-bench` run per service with both "
        f"servers, {rounds} rounds + 1 warm-up per sample and mode. Times in ms, medians with p95 in brackets.",
        "",
        f"**STT** ({len(STT_TEXTS)} utterances synthesized by wyoming-piper through `wyoming-bench generate-corpus`):",
        "",
        "| server | mode | ok / fail | total median (p95) | RTF median | accuracy | total ours / theirs |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in ("non_streaming", "streaming"):
        for name, modes in (("ours (hub)", ours_stt), ("wyoming-faster-whisper", theirs_stt)):
            if mode not in modes:
                lines.append(f"| {name} | {mode} | not run (not advertised) | | | | |")
                continue
            data = modes[mode]
            total = stat(modes, mode, "Total (ms)", "median")
            lines.append(
                f"| {name} | {mode} | {data['ok']} / {data['fail']} | {cell(total)} "
                f"({cell(stat(modes, mode, 'Total (ms)', 'p95'))}) | {cell(stat(modes, mode, 'RTF (x)', 'median'), 2)} "
                f"| {' '.join(str(data.get('accuracy', 'n/a')).split())} | "
                + (ratio(total, stat(theirs_stt, mode, "Total (ms)", "median")) if name.startswith("ours") else "1.00")
                + " |")
    lines += [
        "",
        f"**TTS** ({len(TTS_TEXTS)} texts: 1, 1 and 3 sentences; wyoming-bench appends a nonce to defeat caches):",
        "",
        "| server | mode | ok / fail | first audio median (p95) | total median (p95) | RTF median "
        "| first audio ours / theirs | total ours / theirs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("non_streaming", "streaming"):
        for name, modes in (("ours (hub)", ours_tts), ("wyoming-piper", theirs_tts)):
            if mode not in modes:
                lines.append(f"| {name} | {mode} | not run (not advertised) | | | | | |")
                continue
            data = modes[mode]
            first = stat(modes, mode, "TTFT (ms)", "median")
            total = stat(modes, mode, "Total (ms)", "median")
            ours = name.startswith("ours")
            lines.append(
                f"| {name} | {mode} | {data['ok']} / {data['fail']} | {cell(first)} "
                f"({cell(stat(modes, mode, 'TTFT (ms)', 'p95'))}) | {cell(total)} "
                f"({cell(stat(modes, mode, 'Total (ms)', 'p95'))}) | {cell(stat(modes, mode, 'RTF (x)', 'median'), 2)} | "
                + (ratio(first, stat(theirs_tts, mode, "TTFT (ms)", "median")) if ours else "1.00") + " | "
                + (ratio(total, stat(theirs_tts, mode, "Total (ms)", "median")) if ours else "1.00") + " |")
    lines += [
        "",
        "Streaming rows: wyoming-bench's streaming paths (`transcript-chunk`, `synthesize-start/chunk/stop`) run "
        "only on servers that advertise them; our hub's service advertises neither (it answers non-streaming "
        "requests, which is what Home Assistant sends when a server does not advertise streaming). Machine load "
        f"(1/5/15 min) {' / '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} after, on 2 cores shared with other work.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per sample and mode")
    args = parser.parse_args()
    try:
        body = asyncio.run(run(args.rounds))
    except peers.PeerMissingError as err:
        raise SystemExit(f"bench.wyoming_bench: {err}") from None
    write_result("wyoming_bench", body, command=f"python -m bench.wyoming_bench --rounds {args.rounds}")


if __name__ == "__main__":
    main()
