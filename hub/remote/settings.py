"""``[stt]``, ``[tts]``, ``[llm]`` (model servers elsewhere) and ``[hubs]`` (several hubs, one owner per satellite)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.remote.pool import parse_tcp


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _PoolSettings(_Section):
    local_fallback: bool = Field(default=False,
                                 description="Also load the local model and use it when every server is out "
                                             "(off: a hub with servers loads no local model of this kind)")
    request_timeout_s: float = Field(default=20.0, gt=0, le=300,
                                     description="Longest wait for one server's answer before the next is tried, "
                                                 "seconds")
    check_every_s: float = Field(default=10.0, gt=0, le=3600,
                                 description="How often an idle healthy server is asked describe, seconds")
    backoff_max_s: float = Field(default=30.0, gt=0, le=3600,
                                 description="Longest wait before a failed server is tried again (1 s doubling), "
                                             "seconds")


class _WyomingPoolSettings(_PoolSettings):
    servers: list[str] = Field(default_factory=list,
                               description="Wyoming servers, tcp://host:port each (empty: the local model only)")

    @field_validator("servers")
    @classmethod
    def _tcp(cls, value: list[str]) -> list[str]:
        for uri in value:
            parse_tcp(uri)
        return value


class SttPoolSettings(_WyomingPoolSettings):
    """``[stt]``: speech recognition on Wyoming ASR servers (wyoming-faster-whisper, another hub)."""


class TtsPoolSettings(_WyomingPoolSettings):
    """``[tts]``: speech synthesis on Wyoming TTS servers (wyoming-piper, another hub)."""

    request_timeout_s: float = Field(default=10.0, gt=0, le=300,
                                     description="Longest wait for the next piece of a server's audio, seconds")


class LlmPoolSettings(_PoolSettings):
    """``[llm]``: the language model on OpenAI-compatible endpoints; model name, key and timeouts come from
    ``[models] openai_*``."""

    servers: list[str] = Field(default_factory=list,
                               description="OpenAI-compatible API roots, http://host:port/v1 each (empty: [models] llm)")

    @field_validator("servers")
    @classmethod
    def _http(cls, value: list[str]) -> list[str]:
        from hub.llm.openai_client import chat_url

        for url in value:
            chat_url(url)
        return value


class HubsSettings(_Section):
    """``[hubs]``: several hubs on one broker; each satellite is driven by exactly one of them."""

    ownership: bool = Field(default=False,
                            description="Take satellites only through a lease on the broker (turn on in every hub "
                                        "of a house with more than one)")
    claim_delay_s: float = Field(default=0.3, ge=0, le=30,
                                 description="Wait before claiming a satellite without a live owner, plus up to as "
                                             "much again by hub id (spreads claims of several hubs), seconds")
    settle_s: float = Field(default=0.5, ge=0.05, le=30,
                            description="A claim holds if no other hub's claim arrives within this, seconds")
