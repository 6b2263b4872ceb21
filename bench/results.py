"""Benchmark results: each benchmark rewrites its own section of docs/BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEach section is written by the command it names; rerun it to refresh.\n"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def load_note(before: tuple[float, ...], after: tuple[float, ...] | None = None) -> str:
    """The machine's 1-minute load around a run (``os.getloadavg()``), for the results' small print."""
    text = f"Machine load (1-min average) {before[0]:.2f} before"
    return text if after is None else f"{text}, {after[0]:.2f} after"


def write_result(name: str, body: str, command: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    section = (f"<!-- {name} -->\n## {name}\n\n`{command}` on {machine()}, "
               f"{time.strftime('%Y-%m-%d')}\n\n{body.strip()}\n<!-- /{name} -->\n")
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
