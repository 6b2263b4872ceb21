"""A real OpenAI-compatible server for tests and benchmarks: llama-cpp-python's own
(``python -m llama_cpp.server``, its ``[server]`` extra) serving a GGUF on 127.0.0.1.

Its output (uvicorn's access log and "Disconnected from client" when a client went away mid-answer and the server stopped generating for it)
is kept in a file, so a test can see what the server did.

A GGUF without a chat template (the shipped gemma base model) needs one of llama-cpp-python's built-in
chat formats: "alpaca" keeps the system message (the hub's grounding) and is plain text a base model
continues; "gemma" drops system messages, "chatml" makes this base model stop at once.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from common.local_broker import free_port
from common.processes import stop_process

DISCONNECTED = "Disconnected from client"
"""What llama_cpp.server prints when it notices the client closed the stream and stops that generation."""


@dataclass
class LlamaServer:
    url: str
    """The API root to give the hub (``http://127.0.0.1:PORT/v1``)."""
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_process(model: Path, port: int, log_path: Path, *, chat_format: str | None = "alpaca",
                  threads: int = 2, context: int = 2048) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_threads", str(threads), "--n_ctx", str(context)]
    if chat_format:
        command += ["--chat_format", chat_format]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: "
                               f"{log_path.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"llama_cpp.server not ready after {timeout:.0f} s: {log_path.read_text(errors='replace')[-2000:]}")



@contextlib.contextmanager
def llama_server(model: Path, *, port: int | None = None, chat_format: str | None = "alpaca",
                 threads: int = 2) -> Iterator[LlamaServer]:
    """The server running ``model`` on ``port`` (a free one by default), stopped afterwards.

    ``chat_format`` names llama-cpp-python's built-in chat format for a GGUF without a chat
    template (the shipped gemma base model); a GGUF that has one uses its own."""
    port = port or free_port()
    log_path = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    process = start_process(model, port, log_path, chat_format=chat_format, threads=threads)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", port, process, log_path)
    try:
        wait_ready(server.url, process, log_path)
        yield server
    finally:
        stop_process(process)
        log_path.unlink(missing_ok=True)
