"""Prometheus ``/metrics`` on the hub for people who scrape (the same numbers as ``hub/metrics`` on MQTT)."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.registry import Collector

from hub.home.home_assistant import HomeAssistantBackend
from hub.pipeline.turn_services import TurnServices
from protocol.payloads import HubMetrics


class MetricsSource(Protocol):
    """Where the numbers come from (the hub)."""

    def metrics(self) -> HubMetrics: ...

    @property
    def services(self) -> TurnServices:
        """Its ``speculation`` counters."""

    @property
    def home_assistant(self) -> HomeAssistantBackend | None: ...

FIELDS = {
    "stt_queue_depth": "Utterances waiting for speech recognition",
    "active_turns": "Turns in progress",
    "satellites_connected": "Satellites connected over Wyoming",
    "turns_total": "Turns finished since start",
    "rss_mb": "Hub resident memory, MiB",
    "audio_dropped_total": "Audio chunks dropped for slow satellites",
}

SPECULATION_FIELDS = {
    "early_commits": "Turns whose listening ended on the short window for a complete command",
    "early_discarded": "Speculative transcripts dropped because the person spoke again",
    "commands_continued": "Complete commands the speaker continued within the short window (not cut off)",
    "llm_hits": "Speculative language-model answers adopted (final words the same)",
    "llm_misses": "Speculative language-model answers cancelled",
    "llm_wasted_ms": "Wall time cancelled speculative answers kept the language model busy, ms",
    "llm_wasted_pieces": "Text pieces cancelled speculative answers produced",
}


class _HubCollector(Collector):
    def __init__(self, hub: MetricsSource) -> None:
        self._hub = hub

    def collect(self):  # type: ignore[no-untyped-def]
        values = self._hub.metrics()
        for name, help_text in FIELDS.items():
            gauge = Gauge(f"hearth_hub_{name}", help_text, registry=None)
            gauge.set(float(getattr(values, name)))
            yield from gauge.collect()
        speculation = self._hub.services.speculation
        for name, help_text in SPECULATION_FIELDS.items():
            counter = Gauge(f"hearth_hub_speculation_{name}", help_text, registry=None)
            counter.set(float(getattr(speculation, name)))
            yield from counter.collect()
        home_assistant = self._hub.home_assistant
        if home_assistant is not None:
            up = Gauge("hearth_home_assistant_up", "1 while the hub's websocket link to Home Assistant is up",
                       registry=None)
            up.set(1.0 if home_assistant.available else 0.0)
            yield from up.collect()


def start_metrics_server(hub: MetricsSource, host: str, port: int) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_HubCollector(hub))
    start_http_server(port, addr=host, registry=registry)
    return registry
