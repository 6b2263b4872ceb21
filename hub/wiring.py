"""How each part of the hub is built from its settings; :mod:`hub.app` decides who owns it and when it runs.

Every function here builds and returns; none starts a task or keeps a reference.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.mqtt import MqttLink
from hub.adapters.metrics import MetricsSource, start_metrics_server
from hub.adapters.wyoming_service import WyomingService
from hub.answers.home_context import HomeContext
from hub.conversation.bus import EventBus
from hub.home.control import HomeControl
from hub.home.home_assistant import HomeAssistantBackend
from hub.home.intents import IntentMatcher
from hub.home.model import HomeBackend
from hub.home.mqtt_devices import MqttDevices
from hub.home.skills import Skills
from hub.home.timers import TimerRegistry
from hub.loaded_models import Models
from hub.pipeline.endpointing import EndpointSettings
from hub.pipeline.transcript import DoubtSettings
from hub.pipeline.turn_services import TurnServices, TurnSettings
from hub.settings import HubSettings
from hub.storage.recorder import SessionRecorder
from protocol.topics import HubTopic, Topics

_LOGGER = logging.getLogger(__name__)

class StartupError(RuntimeError):
    """The hub cannot start (e.g. its port is taken); one line for the person starting it."""


ProblemReporter = Callable[[str, str | None], None]
"""``(key, problem)``: report something wrong on hub/state, or clear it with None."""


def mqtt_link(settings: HubSettings, topics: Topics) -> MqttLink:
    # With several hubs each has its own last will: a lease is valid while its hub's says online.
    return MqttLink(settings.mqtt, f"hearth-hub-{settings.hub_id}",
                    availability_topic=topics.hub_availability(settings.hub_id) if settings.hubs.ownership
                    else topics.hub(HubTopic.AVAILABILITY))


def recorder(settings: HubSettings, learner_state: Callable[[], dict[str, Any]],
             report_problem: ProblemReporter) -> SessionRecorder | None:
    if not settings.recorder.enabled:
        return None
    rec = settings.recorder
    return SessionRecorder(
        settings.data_dir / "sessions", learner_state,
        max_bytes=rec.max_session_mb * 2**20, keep_sessions=rec.keep_sessions, audio=rec.audio,
        max_audio_bytes=rec.max_audio_mb * 2**20,
        on_problem=lambda err: report_problem("recorder", err and f"session recording stopped: {err}"))


def base_endpoint(settings: HubSettings) -> EndpointSettings:
    conv = settings.conversation
    return EndpointSettings(silence_ms=conv.silence_ms, max_ms=conv.max_speech_ms,
                            command_silence_ms=conv.command_silence_ms)


def turn_services(settings: HubSettings, models: Models, bus: EventBus, timers: TimerRegistry, *,
                  style_for: Any, facts: Any, on_user_text: Callable[[str, str, str], None],
                  on_turn_audio: Callable[[str, str, bytes], None]) -> TurnServices:
    conv = settings.conversation
    return TurnServices(
        bus=bus, stt=models.stt, tts=models.tts, llm=models.llm, skills=Skills(timers),
        settings=TurnSettings(system_prompt=conv.system_prompt, history_turns=conv.history_turns,
                              endpoint=base_endpoint(settings), early_stt_ms=conv.speculative_stt_ms,
                              first_clause_words=conv.first_clause_words,
                              doubt=DoubtSettings(min_avg_logprob=conv.unsure_logprob,
                                                  max_no_speech_prob=conv.no_speech_prob),
                              listen_after_asking=conv.listen_after_asking),
        style_for=style_for, facts=facts, on_user_text=on_user_text, on_turn_audio=on_turn_audio,
        speculative_llm=conv.speculative_answer,
    )


def home_control(settings: HubSettings, link: MqttLink, bus: EventBus, services: TurnServices,
                 report_problem: ProblemReporter) -> tuple[HomeControl, HomeAssistantBackend | None]:
    """Every way of reaching devices that the settings ask for, behind one :class:`HomeControl`, wired
    into the turn's skills, intents and answers; and Home Assistant's websocket link (the caller runs it)."""
    backends: list[HomeBackend] = []
    if settings.mqtt.enabled and settings.mqtt_devices.enabled:
        backends.append(MqttDevices(link, settings.mqtt_devices.discovery_prefix))
    home_assistant = HomeAssistantBackend(settings.home_assistant) if settings.home_assistant.enabled else None
    if home_assistant is not None:
        backends.append(home_assistant)
        # The link's state is reported on hub/state (a problem while down) and /metrics.
        home_assistant.add_link_listener(lambda up, error: report_problem(
            "home_assistant", None if up or error is None or error.code == "ha_stopped"
            else f"Home Assistant: {error} ({error.code})"))
    home = HomeControl(backends, settings.home, bus)
    services.skills.home = home
    if home_assistant is not None and settings.home_assistant.assist_fallback:
        ha = home_assistant
        services.skills.assist = lambda text: ha.process_conversation(text, "en")
    services.matcher = IntentMatcher(home.entities)
    services.answers.home = HomeContext(home.entities, home.state)  # device states for the LLM's prompt
    return home, home_assistant


def private_dir(path: Path) -> None:
    """Memory, transcripts and recordings are the household's: the data folder is the hub user's only."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as err:  # e.g. a folder owned by someone else: the Store reports what matters
        _LOGGER.warning("could not make %s private (mode 0700): %s", path, err)


async def open_ports(settings: HubSettings, models: Models, metrics: MetricsSource) -> WyomingService | None:
    """Listen for Wyoming clients and serve /metrics, as the settings ask; :class:`StartupError` if a port is taken."""
    service = None
    if settings.wyoming.enabled:
        service = WyomingService(settings.wyoming, models)
        try:
            await service.start()
        except OSError as err:
            raise StartupError(f"cannot listen for Wyoming on {settings.wyoming.host}:{settings.wyoming.port}: "
                               f"{err.strerror or err} (is another hub running?)") from None
    if settings.metrics_port:
        try:
            start_metrics_server(metrics, settings.metrics_host, settings.metrics_port)
        except OSError as err:
            if service is not None:
                await service.close()
            raise StartupError(f"cannot serve /metrics on {settings.metrics_host}:{settings.metrics_port}: "
                               f"{err.strerror or err} (is another hub running?)") from None
    return service
