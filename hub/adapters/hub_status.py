"""What the hub says about itself: ``hub/state`` (retained: status, models, satellites, problems) and
``hub/metrics`` every few seconds.

:class:`HubStatus` owns the problem list: any part of the hub reports (or clears) a problem under
its own key; each change is logged once and re-published, and a hub with problems is ``degraded``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Literal

import psutil

from common.mqtt import MqttLink
from hub import __version__
from hub.conversation.session import SatelliteSession
from hub.loaded_models import Models
from protocol.payloads import HubMetrics, HubState
from protocol.topics import HubTopic

_LOGGER = logging.getLogger(__name__)

Lifecycle = Literal["starting", "ready", "stopping"]


class HubStatus:
    def __init__(self, link: MqttLink, models: Models, sessions: Mapping[str, SatelliteSession], *,
                 turns_total: Callable[[], int], audio_dropped: Callable[[], int]) -> None:
        self._link = link
        self._models = models
        self._sessions = sessions
        self._turns_total = turns_total
        self._audio_dropped = audio_dropped
        self._process = psutil.Process()  # one object: cpu_percent is measured since its previous call
        self.lifecycle: Lifecycle = "starting"
        self.problems: dict[str, str] = {}
        """Key (who reported it) -> what is wrong, for people."""

    def set_lifecycle(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.publish_state()

    def set_problem(self, key: str, problem: str | None) -> None:
        """Report (or clear) something wrong on hub/state; logged once per change."""
        if self.problems.get(key) == problem:
            return
        if problem is None:
            del self.problems[key]
            _LOGGER.info("resolved: %s", key)
        else:
            self.problems[key] = problem
            _LOGGER.error("%s", problem)
        self.publish_state()

    def publish_state(self) -> None:
        status = "degraded" if self.problems and self.lifecycle == "ready" else self.lifecycle
        self._link.publish(self._link.topics.hub(HubTopic.STATE), HubState(
            status=status, models=self._models.status,
            satellites=sorted(s.id for s in self._sessions.values() if s.connected),
            software=f"hearth-hub {__version__}", problems=list(self.problems.values()),
        ), retain=True)

    def metrics(self) -> HubMetrics:
        process = self._process
        return HubMetrics(
            stt_queue_depth=self._models.stt.queue_depth,
            active_turns=sum(1 for s in self._sessions.values() if s.busy),
            satellites_connected=sum(1 for s in self._sessions.values() if s.connected),
            turns_total=self._turns_total(),
            rss_mb=round(process.memory_info().rss / 2**20, 1),
            cpu_percent=process.cpu_percent(),
            audio_dropped_total=self._audio_dropped(),
        )

    async def run(self, every_s: float = 10.0) -> None:
        """Metrics every ``every_s`` seconds, and the model servers' health as a problem while one is out."""
        while True:
            await asyncio.sleep(every_s)
            # QoS 0: the next one comes soon, and a QoS 1 delivery costs the broker a store write.
            self._link.publish(self._link.topics.hub(HubTopic.METRICS), self.metrics(), qos=0)
            for pool in self._models.pools:
                self.set_problem(f"{pool.kind}-servers", None if pool.healthy_count == len(pool.servers)
                                 else f"{pool.kind} servers: {pool.describe()}")
