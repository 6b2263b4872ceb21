"""The satellite's settings: parsed once, at the entry point, from flags and a TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.mqtt import MqttSettings
from protocol.end_of_speech import MAX_SPEECH_MS, NO_SPEECH_MS, SILENCE_MS
from protocol.topics import DEVICE_ID_PATTERN


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WyomingSettings(_Section):
    host: str = Field(default="0.0.0.0", description="Address to listen on for the hub (or Home Assistant)")
    port: int = Field(default=10700, ge=0, le=65535, description="TCP port (0: any free port)")
    allow: list[str] = Field(default_factory=list,
                             description="Addresses allowed to connect ('any': everyone); empty: this machine and "
                                         "the MQTT broker's host (where the hub runs), or everyone without MQTT")
    takeover: bool = Field(default=False, description="A new connection replaces the current driver (newest wins); "
                                                      "off: a second driver is refused with a Wyoming error "
                                                      "'already_driven' while the first is alive")


class AudioSettings(_Section):
    backend: Literal["sounddevice", "file", "pipe"] = Field(default="sounddevice",
                                                            description="Sound card, WAV file or raw PCM pipe")
    input_device: str = Field(default="", description="Microphone, by (part of) its name; empty: default")
    output_device: str = Field(default="", description="Speaker, by (part of) its name; empty: default")
    input_file: Path | None = Field(default=None, description="file/pipe backend: WAV file or raw 16 kHz PCM to read")
    output_file: Path | None = Field(default=None, description="file/pipe backend: where played audio is written")
    realtime: bool = Field(default=True, description="file backend: pace input like a microphone")
    leading_silence_s: float = Field(default=0.5, ge=0, description="file backend: silence before the file")
    echo_gain: float = Field(default=0.0, ge=0, le=2, description="file backend: mix this much of the playback "
                                                                  "back into the input, like a real room")
    wait_for_hub: bool = Field(default=True, description="file/pipe backend: start reading the input only "
                                                         "once a hub has connected")
    exit_at_end: bool = Field(default=False, description="file backend: stop when the input file is used up")


class WakeSettings(_Section):
    model: str = Field(default="hey_jarvis", description="hey_jarvis, alexa, ok_nabu, hey_mycroft, hey_rhasspy "
                                                         "or a path to a .tflite model")
    threshold: float = Field(default=0.6, ge=0.05, le=0.99,
                             description="Wake score that counts as a detection (the right phrase scores "
                                         "0.95+; near misses like 'hey Travis' reach 0.56)")
    refractory_s: float = Field(default=2.0, ge=0, description="Ignore further detections for this long")
    vad_gate: bool = Field(default=True, description="Run the wake model only when VAD hears speech (saves CPU)")
    phases: Literal[1, 2, 4, 8] = Field(
        default=4,
        description="Offsets inside each 80 ms block at which the wake model scores (4: every 20 ms); the best "
                    "counts. The score depends on where the block grid falls in the phrase: 4 phases heard 34 of "
                    "48 wake phrases in continuous pink noise at 10 dB SNR where 1 heard 24 (bench/hearing.py); "
                    "each phase costs one more embedding-model run while the VAD gate is open")
    stream_preroll_ms: int = Field(
        default=1200, ge=0, le=2000,
        description="After a wake (and a wake-word barge-in) the stream to the hub starts this much audio "
                    "before the moment the wake model fired, ms (rounded up to 80 ms blocks). The model fires "
                    "late in the phrase, and a command said without a pause starts before it: 0 lost the first "
                    "word 36 times in 38. The default sends the whole wake phrase again, which the hub's whisper "
                    "spells out and cuts (detection 'preroll_ms' tells it): first word kept 40 of 47, WER 10 %, "
                    "where 400 ms left a fragment ('I'm Travis') in front: 21 of 47, WER 30 %")


class VadSettings(_Section):
    engine: Literal["webrtc", "silero"] = Field(default="webrtc", description="webrtc (lightest) or silero")
    aggressiveness: int = Field(default=2, ge=0, le=3, description="webrtc: 0 (least) to 3 (most) strict")
    threshold: float = Field(default=0.5, ge=0.05, le=0.99, description="silero: speech probability threshold")
    noise_margin_db: float = Field(
        default=8.0, ge=0, le=30,
        description="Speech must also stand this many dB above the room's noise floor (the 20th percentile of "
                    "the last noise_window_s of block levels), dB; 0: the VAD alone (which calls steady noise "
                    "10 dB under a voice speech, so commands in a noisy room only ended at max_ms)")
    noise_window_s: float = Field(default=6.0, ge=1, le=60, description="How much audio the noise floor follows, s")
    # Defaults shared with the hub's end-of-speech decider (protocol/end_of_speech.py).
    silence_ms: int = Field(default=SILENCE_MS, ge=100, le=3000, description="Silence that ends a command, ms")
    no_speech_ms: int = Field(default=NO_SPEECH_MS, ge=500,
                              description="Give up if nothing is said this long after the wake, ms")
    max_ms: int = Field(default=MAX_SPEECH_MS, ge=1000, le=30000, description="Hard maximum for one command, ms")


class BargeInSettings(_Section):
    enabled: bool = Field(default=True, description="Keep listening for the wake word while speaking")
    on_speech: bool = Field(default=False, description="Also stop when the user speaks over the answer (for "
                                                        "near-field or quiet speakers: over a reverberant room's "
                                                        "echo the VAD hears the answer itself, bench/echo_wake.py)")
    wake_threshold: float = Field(default=0.7, ge=0.05, le=0.99,
                                  description="Wake score needed while our own answer plays (echo residue "
                                              "scores up to about 0.55; a real wake word over it 0.7-1.0)")
    echo_cancel: bool = Field(default=True, description="Remove our own playback from the microphone")
    echo_canceller: Literal["linear", "webrtc"] = Field(
        default="linear",
        description="linear: our adaptive filter, which keeps the person's voice while the answer plays "
                    "(\"Hey Jarvis\" over a reverberant echo: 88 of 90 heard vs 55 with webrtc, "
                    "bench/echo_wake.py); webrtc: WebRTC AEC3, which removes more echo but also much of the voice")
    noise_suppression: bool = Field(default=False, description="WebRTC noise suppression on the microphone "
                                                               "(every block, after echo cancellation)")
    auto_gain: bool = Field(default=False, description="WebRTC automatic gain control on the microphone "
                                                       "(every block, after echo cancellation)")


class SatelliteSettings(_Section):
    id: str = Field(default="satellite", pattern=DEVICE_ID_PATTERN, description="Device id (MQTT user)")
    name: str = Field(default="", description="Human name; default: the id")
    area: str = Field(default="", description="Room; default: the id")
    advertise_host: str = Field(default="", description="Host name the hub should use to reach us; default: ours")
    wyoming: WyomingSettings = Field(default_factory=WyomingSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    wake: WakeSettings = Field(default_factory=WakeSettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    barge_in: BargeInSettings = Field(default_factory=BargeInSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    sounds: bool = Field(default=True, description="Play wake, error and timer sounds")
    volume: int = Field(default=100, ge=0, le=100, description="Playback volume, percent")
    muted: bool = Field(default=False, description="Start with the microphone muted")
    metrics_interval_s: float = Field(default=30.0, gt=0, description="How often metrics go to MQTT")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")


PROFILES: dict[str, dict[str, Any]] = {
    "pi5-satellite": {
        # The satellite has a Pi 5's 4 cores to itself and uses a few percent of one (bench.satellite_cpu):
        # score the wake word every 10 ms (8 phases), which costs one embedding run per phase only while
        # the VAD hears speech; the 80 ms block stays (the wake model's input).
        "wake": {"phases": 8},
    },
}
"""Named settings sets (``--profile NAME``), applied under the config file and the flags (README, "Profiles")."""

