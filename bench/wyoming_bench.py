"""Our hub's Wyoming STT+TTS service vs. wyoming-faster-whisper and wyoming-piper, measured by wyoming-bench.

``wyoming-bench==2026.10.0`` (a third-party tool, .venv-peers/bench) runs against three real servers
started here, all on the same model files, offline:

- ours: ``python -m hub`` with its ``[wyoming]`` service on a free loopback port (MQTT off, no satellites);
- ``wyoming-faster-whisper==3.8.1`` on the whisper tiny.en folder (int8, beam 1, 2 threads, like ours);
- ``wyoming-piper==2.5.2`` on the en_US-joe-medium voice.

The STT corpus is made by ``wyoming-bench generate-corpus`` with wyoming-piper (third-party audio,
the same for both STT servers); then ``wyoming-bench stt`` and ``wyoming-bench tts`` each get both
servers in one run. Medians, p95 and ratios are read from its per-server reports.

    .venv/bin/python -m bench.wyoming_bench [--rounds 3]
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


Modes = dict[str, dict[str, object]]


def find(reports: dict[str, Modes], port: int) -> Modes:
    for label, modes in reports.items():
        if f":{port}" in label:
            return modes
    return {}


def stat(modes: Modes, mode: str, metric: str, which: str) -> float | None:
    values = modes.get(mode, {}).get(metric)
    return values.get(which) if isinstance(values, dict) else None


def mean_stat(passes: list[Modes], mode: str, metric: str, which: str) -> float | None:
    values = [v for p in passes if (v := stat(p, mode, metric, which)) is not None]
    return sum(values) / len(values) if values else None


def cell(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    return "n/a" if ours is None or not theirs else f"{ours / theirs:.2f}"


def per_pass(passes: list[Modes], mode: str, metric: str) -> str:
    return ", ".join(cell(stat(p, mode, metric, "median")) for p in passes)


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
    ours_stt: list[Modes] = []
    theirs_stt: list[Modes] = []
    ours_tts: list[Modes] = []
    theirs_tts: list[Modes] = []
    async with peers.running(hub, whisper, piper):
        load_before = os.getloadavg()
        await bench_tool("generate-corpus", "--out", str(corpus), "--texts-file", str(work / "stt-texts.txt"),
                         f"127.0.0.1:{tts_port}", log=work / "generate-corpus.txt")
        # wyoming-bench measures its servers one after the other: two passes in opposite orders, so that a
        # change in the machine's load (other work shares these 2 cores) does not favour either side.
        for index, (first, second) in enumerate(((hub_port, stt_port), (stt_port, hub_port))):
            out = await bench_tool("stt", "--corpus", str(corpus), "--mode", "both",
                                   "--config", '{"language": "en"}', *common, f"127.0.0.1:{first}",
                                   f"127.0.0.1:{second}", log=work / f"stt-{index + 1}.txt")
            print(out)
            reports = parse_reports(out)
            ours_stt.append(find(reports, hub_port))
            theirs_stt.append(find(reports, stt_port))
        for index, (first, second) in enumerate(((hub_port, tts_port), (tts_port, hub_port))):
            out = await bench_tool("tts", "--mode", "both", "--texts-file", str(work / "tts-texts.txt"), *common,
                                   f"127.0.0.1:{first}", f"127.0.0.1:{second}", log=work / f"tts-{index + 1}.txt")
            print(out)
            reports = parse_reports(out)
            ours_tts.append(find(reports, hub_port))
            theirs_tts.append(find(reports, tts_port))
        load_after = os.getloadavg()
    print(f"raw wyoming-bench output in {work}")
    return report(ours_stt, theirs_stt, ours_tts, theirs_tts, rounds, load_before, load_after)


def report(ours_stt: list[Modes], theirs_stt: list[Modes], ours_tts: list[Modes], theirs_tts: list[Modes],
           rounds: int, load_before: tuple[float, float, float], load_after: tuple[float, float, float]) -> str:
    lines = [
        "How to run: `.venv/bin/python -m bench.wyoming_bench` (peers installed by scripts/install-peers.sh on first "
        "use; about 5 minutes).",
        "",
        "`wyoming-bench==2026.10.0` against our hub's Wyoming service (`python -m hub`, `[wyoming]` on) and the "
        "real `wyoming-faster-whisper==3.8.1` / `wyoming-piper==2.5.2`, same model files (whisper tiny.en int8, "
        "beam 1, 2 threads on both; piper en_US-joe-medium). Each service is benchmarked twice, both servers per "
        "`wyoming-bench` run, in opposite orders (ours first, then theirs first), "
        f"{rounds} rounds + 1 warm-up per sample and mode. Times in ms: the mean of the two runs' medians, "
        "each run's median in brackets, then the larger of the two p95s.",
        "",
        f"**STT** ({len(STT_TEXTS)} utterances synthesized by wyoming-piper through `wyoming-bench generate-corpus`):",
        "",
        "| server | mode | ok / fail | total median (run 1, run 2) | total p95 | RTF median | accuracy "
        "| total ours / theirs |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def counts(passes: list[Modes], mode: str) -> str:
        ok = sum(int(str(p[mode]["ok"])) for p in passes if mode in p)
        return f"{ok} / {sum(int(str(p[mode]['fail'])) for p in passes if mode in p)}"

    def p95(passes: list[Modes], mode: str, metric: str) -> str:
        values = [v for p in passes if (v := stat(p, mode, metric, "p95")) is not None]
        return cell(max(values)) if values else "n/a"

    for mode in ("non_streaming", "streaming"):
        for name, passes, other in (("ours (hub)", ours_stt, theirs_stt),
                                    ("wyoming-faster-whisper", theirs_stt, theirs_stt)):
            if not any(mode in p for p in passes):
                lines.append(f"| {name} | {mode} | not run (not advertised) | | | | | |")
                continue
            total = mean_stat(passes, mode, "Total (ms)", "median")
            accuracy = " ".join(str(next(p[mode].get("accuracy", "n/a") for p in passes if mode in p)).split())
            lines.append(
                f"| {name} | {mode} | {counts(passes, mode)} | {cell(total)} ({per_pass(passes, mode, 'Total (ms)')}) "
                f"| {p95(passes, mode, 'Total (ms)')} | {cell(mean_stat(passes, mode, 'RTF (x)', 'median'), 2)} "
                f"| {accuracy} | {ratio(total, mean_stat(other, mode, 'Total (ms)', 'median'))} |")
    lines += [
        "",
        f"**TTS** ({len(TTS_TEXTS)} texts: 1, 1 and 3 sentences; wyoming-bench appends a nonce to defeat caches):",
        "",
        "| server | mode | ok / fail | first audio median (run 1, run 2) | first audio p95 "
        "| total median (run 1, run 2) | total p95 | RTF median | first audio ours / theirs | total ours / theirs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("non_streaming", "streaming"):
        for name, passes, other in (("ours (hub)", ours_tts, theirs_tts), ("wyoming-piper", theirs_tts, theirs_tts)):
            if not any(mode in p for p in passes):
                lines.append(f"| {name} | {mode} | not run (not advertised) | | | | | | | |")
                continue
            first = mean_stat(passes, mode, "TTFT (ms)", "median")
            total = mean_stat(passes, mode, "Total (ms)", "median")
            lines.append(
                f"| {name} | {mode} | {counts(passes, mode)} | {cell(first)} ({per_pass(passes, mode, 'TTFT (ms)')}) "
                f"| {p95(passes, mode, 'TTFT (ms)')} | {cell(total)} ({per_pass(passes, mode, 'Total (ms)')}) "
                f"| {p95(passes, mode, 'Total (ms)')} | {cell(mean_stat(passes, mode, 'RTF (x)', 'median'), 2)} "
                f"| {ratio(first, mean_stat(other, mode, 'TTFT (ms)', 'median'))} "
                f"| {ratio(total, mean_stat(other, mode, 'Total (ms)', 'median'))} |")
    lines += [
        "",
        "Streaming rows: wyoming-bench's streaming paths (`transcript-chunk`, `synthesize-start/chunk/stop`) run "
        "only on servers that advertise them. Our hub's service streams TTS (each sentence is spoken as soon as its "
        "text has arrived) but not STT; neither does wyoming-faster-whisper here. Machine load "
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
