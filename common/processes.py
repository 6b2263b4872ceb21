"""Ending a child process politely: SIGTERM, a bounded wait, then SIGKILL (tests, benches and the demo)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Terminate ``process`` and wait up to ``timeout_s`` for it; kill it if it is still running then."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
