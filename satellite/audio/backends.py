"""Audio in and out: a sound card through sounddevice, or a WAV file / raw pipe for tests and headless use.

Every backend is full duplex on one clock: each 80 ms block yields the microphone samples
together with the samples the speaker played during that block (pulled from the
:class:`~satellite.audio.player.Player`), so the rest of the satellite runs the same code
whatever the backend.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sys
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from common.pcm import resample_pcm
from protocol.audio import MIC_CHUNK_SAMPLES, MIC_FORMAT
from satellite.audio.player import Player
from satellite.settings import AudioSettings

_LOGGER = logging.getLogger(__name__)

BLOCK_SAMPLES = MIC_CHUNK_SAMPLES
"""80 ms: one openwakeword frame, and one chunk of the stream to the hub."""
BLOCK_BYTES = BLOCK_SAMPLES * MIC_FORMAT.width
BLOCK_S = BLOCK_SAMPLES / MIC_FORMAT.rate


class AudioError(RuntimeError):
    pass


@dataclass(frozen=True)
class AudioBlock:
    mic: bytes
    played: bytes
    """What the speaker played during this block (the echo reference)."""
    t: float
    """Monotonic time the block was captured."""


class AudioBackend(Protocol):
    frames_dropped: int

    def blocks(self) -> AsyncIterator[AudioBlock]: ...

    async def close(self) -> None: ...


def read_wav_16k(path: Path) -> bytes:
    """Any PCM WAV as 16 kHz 16-bit mono; a clear error for anything else."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as err:
        raise AudioError(f"cannot read {path}: {err}") from err
    if width != 2:
        raise AudioError(f"{path}: {8 * width}-bit audio; use 16-bit PCM")
    samples = np.frombuffer(frames, dtype=np.int16)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample_pcm(samples.tobytes(), rate, MIC_FORMAT.rate)


class _Recorder:
    """Writes only what was actually played (not the silence between answers)."""

    def __init__(self, path: Path | None, raw: bool) -> None:
        self._file: BinaryIO | wave.Wave_write | None = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw:
            self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        else:
            wav = wave.open(str(path), "wb")  # noqa: SIM115 - closed in close()
            wav.setnchannels(MIC_FORMAT.channels)
            wav.setsampwidth(MIC_FORMAT.width)
            wav.setframerate(MIC_FORMAT.rate)
            self._file = wav

    def write(self, pcm: bytes) -> None:
        if isinstance(self._file, wave.Wave_write):
            self._file.writeframes(pcm)
        elif self._file is not None:
            self._file.write(pcm)
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class FileBackend:
    """Input from a WAV (or a raw 16 kHz stream for ``pipe``); output to a file; a virtual clock.

    ``echo_gain`` mixes the playback back into the input as a room would, so echo
    cancellation and barge-in run exactly as they do on a real device.
    """

    def __init__(self, settings: AudioSettings, player: Player, *, raw: bool = False,
                 hub_ready: asyncio.Event | None = None) -> None:
        self._settings = settings
        self._hub_ready = hub_ready if settings.wait_for_hub else None
        self._player = player
        self._raw = raw
        self.frames_dropped = 0
        self.finished = asyncio.Event()
        self._recorder = _Recorder(settings.output_file, raw)
        self._input: BinaryIO | None = None
        self._pcm = b""
        if raw:
            self._input = sys.stdin.buffer if settings.input_file in (None, Path("-")) else open(  # noqa: SIM115
                settings.input_file, "rb")  # type: ignore[arg-type]
        elif settings.input_file is not None:
            self._pcm = bytes(int(MIC_FORMAT.bytes_per_second * settings.leading_silence_s)) + read_wav_16k(
                settings.input_file)
        self._offset = 0

    def feed(self, pcm: bytes) -> None:
        """Append more microphone audio (tests use it to speak during playback)."""
        self._pcm = self._pcm[self._offset:] + pcm
        self._offset = 0

    async def _next_mic(self) -> bytes | None:
        if self._hub_ready is not None and not self._hub_ready.is_set():
            return bytes(BLOCK_BYTES)  # the recording starts once a hub listens, as a person would wait
        if self._input is not None:
            data = await asyncio.to_thread(self._input.read, BLOCK_BYTES)
            if not data:
                return None
            return data + bytes(BLOCK_BYTES - len(data))
        if self._offset >= len(self._pcm):
            return None
        block = self._pcm[self._offset:self._offset + BLOCK_BYTES]
        self._offset += BLOCK_BYTES
        return block + bytes(BLOCK_BYTES - len(block))

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        start = time.monotonic()
        index = 0
        idle_blocks = 0
        while True:
            mic = await self._next_mic()
            if mic is None:
                if self._settings.exit_at_end and not self._player.playing:
                    idle_blocks += 1
                    if idle_blocks > 25:  # two seconds of nothing to hear or play
                        self.finished.set()
                        return
                mic = bytes(BLOCK_BYTES)
            real_before = self._player.pending_ms > 0
            played = self._player.pull(BLOCK_BYTES)
            if real_before:
                self._recorder.write(played)
            if self._settings.echo_gain > 0:
                mic = _mix(mic, played, self._settings.echo_gain)
            index += 1
            if self._settings.realtime:
                delay = start + index * BLOCK_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            yield AudioBlock(mic, played, time.monotonic())

    async def close(self) -> None:
        self._recorder.close()
        if self._input is not None and self._input is not sys.stdin.buffer:
            self._input.close()


def _mix(mic: bytes, played: bytes, gain: float) -> bytes:
    a = np.frombuffer(mic, dtype=np.int16).astype(np.int32)
    b = (np.frombuffer(played, dtype=np.int16).astype(np.float32) * gain).astype(np.int32)
    return np.clip(a + b, -32768, 32767).astype(np.int16).tobytes()


def find_device(name: str, kind: str) -> int | None:
    """A PortAudio device index by (part of) its name; None for the default."""
    if not name:
        return None
    import sounddevice as sd

    wanted = name.lower()
    channels_key = "max_input_channels" if kind == "input" else "max_output_channels"
    devices: list[dict[str, Any]] = [dict(d) for d in sd.query_devices()]  # type: ignore[union-attr]
    for index, device in enumerate(devices):
        if wanted in str(device["name"]).lower() and int(device[channels_key]) > 0:
            return index
    names = ", ".join(str(d["name"]) for d in devices if int(d[channels_key]) > 0)
    raise AudioError(f"no {kind} device matching {name!r}; available: {names or 'none'}")


class SoundDeviceBackend:
    """PortAudio input and output streams at the same rate and block size.

    The output callback pulls each block from the player and queues it as the echo reference;
    the input callback pairs each microphone block with the oldest queued reference. (One
    duplex stream would pair them exactly, but ALSA's PulseAudio plugin stalls duplex streams.)
    """

    def __init__(self, settings: AudioSettings, player: Player, *, queue_blocks: int = 50) -> None:
        import sounddevice as sd

        self._player = player
        self.frames_dropped = 0
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[AudioBlock] = asyncio.Queue(maxsize=queue_blocks)
        self._references: collections.deque[bytes] = collections.deque(maxlen=8)
        common = {"samplerate": MIC_FORMAT.rate, "blocksize": BLOCK_SAMPLES, "dtype": "int16", "channels": 1,
                  "latency": "low"}
        try:
            self._output = sd.RawOutputStream(device=find_device(settings.output_device, "output"),
                                              callback=self._play, **common)
            self._input = sd.RawInputStream(device=find_device(settings.input_device, "input"),
                                            callback=self._record, **common)
            self._output.start()
            self._input.start()
        except sd.PortAudioError as err:
            raise AudioError(f"cannot open the sound card: {err}") from err

    def _play(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        played = self._player.pull(len(outdata))
        outdata[:] = played
        self._references.append(played)

    def _record(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.frames_dropped += 1
        mic = bytes(indata)
        try:
            played = self._references.popleft()
        except IndexError:
            played = bytes(len(mic))
        if len(played) != len(mic):
            played = (played + bytes(len(mic)))[: len(mic)]
        self._loop.call_soon_threadsafe(self._put, AudioBlock(mic, played, time.monotonic()))

    def _put(self, block: AudioBlock) -> None:
        try:
            self._queue.put_nowait(block)
        except asyncio.QueueFull:
            self.frames_dropped += 1  # the pipeline fell behind; counted in metrics

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        while True:
            yield await self._queue.get()

    async def close(self) -> None:
        for stream in (self._input, self._output):
            with contextlib.suppress(Exception):
                stream.stop()
                stream.close()


def open_backend(settings: AudioSettings, player: Player, hub_ready: asyncio.Event | None = None) -> AudioBackend:
    if settings.backend == "sounddevice":
        return SoundDeviceBackend(settings, player)
    return FileBackend(settings, player, raw=settings.backend == "pipe", hub_ready=hub_ready)
