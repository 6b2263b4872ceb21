"""Settings for reaching the home: ``[home_assistant]`` (Home Assistant's websocket API)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class HomeAssistantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="", description="Home Assistant's address, e.g. http://homeassistant.local:8123 "
                                             "(empty: the hub does not use Home Assistant)")
    token_file: Path | None = Field(default=None, description="File holding a long-lived access token (HA: your "
                                                               "profile, Security, Long-lived access tokens)")
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Longest wait for one answer from HA, s")
    reconnect_min_s: float = Field(default=1.0, gt=0, le=60, description="First wait before reconnecting, s "
                                                                         "(doubles after each failure)")
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600, description="Longest wait between reconnects, s")
    verify_tls: bool = Field(default=True, description="Check HA's TLS certificate (https:// only)")
    assist_fallback: bool = Field(default=False, description="Pass text the hub's own matcher does not understand to "
                                                             "HA's Assist (conversation/process) before the language "
                                                             "model, and speak HA's answer when it understood")

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @property
    def websocket_url(self) -> str:
        base = self.url.rstrip("/")
        scheme, rest = base.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/websocket"

    @model_validator(mode="after")
    def _check(self) -> HomeAssistantSettings:
        if self.url:
            if not self.url.startswith(("http://", "https://")):
                raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
            if self.token_file is None:
                raise ValueError("token_file is required when url is set")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self
