"""The hub's settings: parsed once, at the entry point, from flags and a TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from common.mqtt import MqttSettings
from hub.home.control import HomeControlSettings
from hub.home.mqtt_devices import MqttDevicesSettings
from hub.home.settings import HomeAssistantSettings as HomeAssistantLinkSettings
from hub.pipeline.conversation_settings import ConversationSettings  # [conversation] lives with the pipeline
from hub.remote.settings import HubsSettings, LlmPoolSettings, SttPoolSettings, TtsPoolSettings
from hub.storage.memory import MemorySettings
from protocol.discovery import parse_ha_version
from protocol.payloads import SatelliteDriver
from protocol.topics import validate_device_id


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WyomingServiceSettings(_Section):
    enabled: bool = Field(default=True, description="Serve Wyoming asr and tts for Home Assistant")
    host: str = Field(default="127.0.0.1", description="Address to bind (Wyoming has no authentication)")
    port: int = Field(default=10300, ge=0, le=65535, description="TCP port (0: any free port)")
    allow: list[str] = Field(default_factory=list, description="Peer addresses allowed to connect; empty: any")


class ModelSettings(_Section):
    stt: str = Field(default="tiny.en", description="Whisper model: tiny.en or base")
    stt_threads: int = Field(default=2, ge=1, le=64, description="CPU threads for speech recognition")
    stt_queue: int = Field(default=32, ge=1, description="Utterances waiting for recognition before refusing")
    stt_vocabulary: list[str] = Field(
        default_factory=list,
        description="Names in this home for whisper's hotwords (rooms, devices: 'kitchen, desk lamp'); the wake "
                    "phrase is added last when the satellite streams it (preroll_ms)")
    stt_prompt: Literal["hotwords", "prompt", "off"] = Field(
        default="hotwords", description="How the vocabulary reaches whisper: hotwords, initial prompt, or not at all")
    stt_temperature_fallback: bool = Field(
        default=False, description="Re-decode doubtful clips at higher temperatures (faster-whisper's default; "
                                   "off: the same audio always gives the same words)")
    llm: Literal["local", "openai"] = Field(default="local", description="local llama.cpp or an OpenAI-compatible server")
    llm_path: Path | None = Field(
        default=None, description="A GGUF file to run instead of the shipped gemma 3 270M base model; one whose "
                                  "metadata has a chat template is driven through it (an instruct model)")
    llm_threads: int = Field(default=2, ge=1, le=64, description="CPU threads for the language model")
    llm_context: int = Field(default=2048, ge=256, description="Language model context, tokens")
    openai_url: str = Field(default="http://127.0.0.1:8080/v1",
                            description="OpenAI-compatible API root (ends in /v1); the hub posts to "
                                        "<url>/chat/completions")
    openai_model: str = Field(default="local", description="Model name to ask the endpoint for")
    openai_key_file: Path | None = Field(default=None, description="File holding the endpoint's API key")
    openai_connect_timeout_s: float = Field(default=3.0, gt=0, le=60,
                                            description="Connecting to the endpoint, seconds")
    openai_read_timeout_s: float = Field(default=30.0, gt=0, le=600,
                                         description="Longest wait for the next piece of the answer, seconds")
    openai_retries: int = Field(default=2, ge=0, le=10,
                                description="Retries before the first token (backoff 0.25 s, doubling)")
    cache_dir: Path | None = Field(default=None, description="Where assembled model files are cached")


class LearningSettings(_Section):
    enabled: bool = Field(default=True, description="Adapt per-room settings and answer style from what people do")
    end_of_speech_floor_ms: int = Field(
        default=500, ge=100, le=2000,
        description="Shortest end-of-speech window learning may choose, ms (mid-command hesitations run to ~500 ms)")


class RecorderSettings(_Section):
    enabled: bool = Field(default=True, description="Record every session for `python -m hub replay`")
    audio: bool = Field(default=False, description="Also keep each turn's microphone audio (WAV)")
    max_session_mb: int = Field(default=50, ge=1, description="Start a new session file past this size, MB")
    max_audio_mb: int = Field(default=200, ge=1, description="Audio kept per session at most, MB")
    keep_sessions: int = Field(default=30, ge=1, description="Sessions kept; older ones are deleted")


class SatelliteEntry(_Section):
    """One satellite the hub knows before it announces itself, and who drives it.

    Written as ``satellites = ["tcp://host:port", ...]`` (driven by the hub, id learned on
    connect), as tables (``[satellites.kitchen] driver = "home_assistant"``), or on the command
    line as ``--satellites tcp://host:port``, ``--satellites kitchen=tcp://host:port`` or
    ``--satellites kitchen=home_assistant``.
    """

    id: str | None = Field(default=None, description="Satellite id, as it announces itself on MQTT")
    uri: str | None = Field(default=None, pattern=r"^tcp://[^\s/]+:\d{1,5}$",
                            description="Its Wyoming address, tcp://host:port (needed when it has no MQTT)")
    driver: SatelliteDriver = Field(default=SatelliteDriver.HUB,
                                    description="Who runs its conversations over Wyoming: hub or home_assistant "
                                                "(the hub then never connects to it)")

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_device_id(value)

    @model_validator(mode="after")
    def _identified(self) -> SatelliteEntry:
        if self.id is None and self.uri is None:
            raise ValueError("a satellite needs an id or a uri")
        return self

    @staticmethod
    def parse(value: Any) -> Any:
        """``tcp://h:p``, ``id=tcp://h:p`` or ``id=driver`` -> a table; tables pass through."""
        if not isinstance(value, str):
            return value
        name, sep, rest = value.partition("=")
        if not sep:
            return {"uri": value}
        return {"id": name, "uri": rest} if rest.startswith("tcp://") else {"id": name, "driver": rest}


class HomeAssistantSettings(HomeAssistantLinkSettings):
    """``[home_assistant]``: the websocket link (url, token_file... in hub/home/settings.py) and discovery."""

    version: str = Field(default="2024.3",
                         description="Oldest Home Assistant release that reads this hub's MQTT discovery, e.g. 2024.3 "
                                     "or 2025.1: 2024.11 or later gets device discovery, 2024.5 or later an MQTT "
                                     "notify entity for announcements (older: a text entity)")

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        parse_ha_version(value)
        return value


class HubSettings(_Section):
    hub_id: str = Field(default="hub", description="This hub's id on MQTT")
    data_dir: Path = Field(default=Path("var/hub"), description="Memory, learning state and recordings")
    satellites: list[SatelliteEntry] = Field(
        default_factory=list,
        description="Satellites known before they announce themselves: tcp://host:port (driven by the hub), "
                    "id=tcp://host:port, or id=home_assistant (Home Assistant drives it; the hub never connects)")
    home_assistant: HomeAssistantSettings = Field(default_factory=HomeAssistantSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    wyoming: WyomingServiceSettings = Field(default_factory=WyomingServiceSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    stt: SttPoolSettings = Field(default_factory=SttPoolSettings)
    tts: TtsPoolSettings = Field(default_factory=TtsPoolSettings)
    llm: LlmPoolSettings = Field(default_factory=LlmPoolSettings)
    hubs: HubsSettings = Field(default_factory=HubsSettings)
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus /metrics port (0: off)")
    metrics_host: str = Field(default="127.0.0.1", description="Address for the /metrics endpoint")
    learning: LearningSettings = Field(default_factory=LearningSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    recorder: RecorderSettings = Field(default_factory=RecorderSettings)
    home: HomeControlSettings = Field(default_factory=HomeControlSettings)
    mqtt_devices: MqttDevicesSettings = Field(default_factory=MqttDevicesSettings)
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("satellites", mode="before")
    @classmethod
    def _satellite_forms(cls, value: Any) -> Any:
        if isinstance(value, dict):  # [satellites.<id>] tables
            return [{"id": key, **(entry if isinstance(entry, dict) else SatelliteEntry.parse(entry))}
                    for key, entry in value.items()]
        if isinstance(value, list):
            return [SatelliteEntry.parse(item) for item in value]
        return value


PROFILES: dict[str, dict[str, Any]] = {
    "pi5-hub": {
        # A Pi 5 has 4 Cortex-A76 cores and nothing else to do: whisper (which runs alone, after the end of
        # speech) takes all four; the language model three, so piper speaking the previous sentence keeps one.
        # whisper tiny.en: base makes fewer errors but is roughly twice the work per utterance.
        "models": {"stt": "tiny.en", "stt_threads": 4, "llm_threads": 3,
                   # A Pi 5 core does about half the work of the x86 core measured in docs/BENCHMARKS.md (an
                   # assumption there too): a shorter backlog refuses ("stt_busy") instead of answering late.
                   "stt_queue": 8},
        # A guess that the speech resumes after wastes a whisper call, twice as dear here: guess a little later.
        "conversation": {"speculative_stt_ms": 250},
    },
}
"""Named settings sets (``--profile NAME``), applied under the config file and the flags (README, "Profiles")."""

