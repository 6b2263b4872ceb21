"""The two ways to reach :class:`hub.conversation.control.SatelliteControl`: Wyoming and MQTT.

- :class:`WyomingControl` sends our extension events (protocol/wyoming_events.py) on the
  satellite's own link: it works with MQTT off, and only for a satellite that speaks them (ours
  says its state after ``run-satellite``; a stock one never does).
- :class:`MqttControl` publishes the satellite's MQTT commands (mute, volume, tune): the route
  to any satellite without our extension while MQTT is on (a stock satellite may have an MQTT companion).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wyoming.event import Event

from hub.conversation.control import ControlRoute
from protocol.commands import MuteCommand, TuneCommand, VolumeCommand
from protocol.wyoming_events import Listen, SetMute, SetVolume, Tune

SatelliteCommand = MuteCommand | VolumeCommand | TuneCommand


class WyomingControl:
    def __init__(self, send: Callable[[Event], Awaitable[None]]) -> None:
        self._send = send

    @property
    def route(self) -> ControlRoute:
        return ControlRoute.WYOMING

    async def set_volume(self, volume: int) -> None:
        await self._send(SetVolume(volume=volume).event())

    async def set_muted(self, muted: bool) -> None:
        await self._send(SetMute(muted=muted).event())

    async def tune(self, *, wake_threshold: float | None, end_of_speech_silence_ms: int | None) -> None:
        await self._send(Tune(wake_threshold=wake_threshold, end_of_speech_silence_ms=end_of_speech_silence_ms).event())

    async def listen(self) -> bool:
        await self._send(Listen().event())  # our satellite holds it until its playback has ended
        return True


class MqttControl:
    def __init__(self, publish: Callable[[str, SatelliteCommand], None], satellite: str, sender: str) -> None:
        self._publish = publish
        self._satellite = satellite
        self._sender = sender

    @property
    def route(self) -> ControlRoute:
        return ControlRoute.MQTT

    async def set_volume(self, volume: int) -> None:
        self._publish(self._satellite, VolumeCommand(command="volume", volume=volume, sender=self._sender))

    async def set_muted(self, muted: bool) -> None:
        self._publish(self._satellite, MuteCommand(command="mute", muted=muted, sender=self._sender))

    async def tune(self, *, wake_threshold: float | None, end_of_speech_silence_ms: int | None) -> None:
        self._publish(self._satellite, TuneCommand(command="tune", sender=self._sender, wake_threshold=wake_threshold,
                                                   end_of_speech_silence_ms=end_of_speech_silence_ms))

    async def listen(self) -> bool:
        # Not start_conversation: the one MQTT side that acts on it (ours, satellite/mqtt_bridge.py) starts
        # streaming at once or refuses while playing, it cannot wait for the answer to end; and a satellite on
        # this route is a stock one whose end of playback the hub cannot be sure of (``played`` is optional,
        # the turn may have ended on its grace time). Opening its microphone over the answer would send the
        # answer back as the person's words, so the person says the wake word again, as before.
        return False
