"""Wyoming ports under the probes: bad audio formats, a second driver, strangers, idle and too many clients.

Real sockets against a real satellite (file audio backend) and the hub's real Wyoming service
with the real models. Every refusal is a Wyoming ``error`` event with a stable code, sent at once,
and the port keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping
from wyoming.satellite import RunSatellite

from common.wyoming_peer import WyomingPeer
from hub.settings import WyomingServiceSettings
from protocol.framing import stream_limit
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings

pytestmark = pytest.mark.timeout(180)

BAD_FORMATS = {  # (rate, width, channels, bytes): what the probes sent
    "rate 1 (a 21.8 s freeze before)": (1, 2, 1, 12 * 1024),
    "rate 2^31-1 (320 GiB before)": (2**31 - 1, 2, 1, 4096),
    "rate 0": (0, 2, 1, 4096),
    "negative rate": (-16000, 2, 1, 4096),
    "odd byte count": (16000, 2, 1, 4095),
    "width 3": (16000, 3, 1, 4095),
    "rate as text": ("16000", 2, 1, 4096),
}


def chunk(rate: object, width: object, channels: object, n_bytes: int) -> Event:
    return Event(type="audio-chunk", data={"rate": rate, "width": width, "channels": channels}, payload=b"\1" * n_bytes)


async def connect(port: int, label: str = "probe", local: str | None = None) -> WyomingPeer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=stream_limit(),
                                                   local_addr=(local, 0) if local else None)
    return WyomingPeer(reader, writer, label)


async def next_event(peer: WyomingPeer, kind: str, timeout: float = 5.0) -> Event:
    async def find() -> Event:
        while True:
            event = await peer.read()
            assert event is not None, f"connection closed while waiting for {kind}"
            if event.type == kind:
                return event
    return await asyncio.wait_for(find(), timeout)


@contextlib.asynccontextmanager
async def satellite(**settings: object) -> AsyncIterator[SatelliteApp]:
    values: dict[str, object] = {"id": "kitchen", "wyoming": {"host": "127.0.0.1", "port": 0},
                                 "audio": {"backend": "file"}, "mqtt": {"enabled": False}, "sounds": False}
    values.update(settings)
    app = await asyncio.to_thread(SatelliteApp, SatelliteSettings.model_validate(values))
    await app.start()
    try:
        yield app
    finally:
        await app.close()


async def test_satellite_refuses_bad_answer_audio_at_once_and_keeps_serving():
    async with satellite() as app:
        hub = await connect(app.server.port)
        await hub.send(RunSatellite().event())
        await hub.send(AudioStart(rate=22050, width=2, channels=1).event())  # an answer starts: playing
        for name, fmt in BAD_FORMATS.items():
            sent = time.monotonic()
            await hub.send(chunk(*fmt))
            error = await next_event(hub, "error")
            took = time.monotonic() - sent
            assert error.data["code"] == "bad_audio_format", (name, error.data)
            assert took < 0.5, (name, took)  # nothing was resampled
        assert app.player.pending_ms == 0
        await hub.send(Ping(text="still there?").event())
        assert (await next_event(hub, "pong")).data.get("text") == "still there?"
        await hub.close()


async def test_a_huge_answer_chunk_is_resampled_off_the_event_loop():
    """1 MiB at 8 kHz (65 s of audio in one chunk) takes about 250 ms to resample: the microphone loop must not wait."""
    async with satellite() as app:
        hub = await connect(app.server.port)
        await hub.send(RunSatellite().event())
        await hub.send(AudioStart(rate=8000, width=2, channels=1).event())
        worst_gap = 0.0

        async def ticker() -> None:
            nonlocal worst_gap
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                worst_gap, last = max(worst_gap, now - last), now

        ticking = asyncio.create_task(ticker())
        try:
            await hub.send(chunk(8000, 2, 1, 1024 * 1024))
            for _ in range(200):
                if app.player.pending_ms > 60_000:
                    break
                await asyncio.sleep(0.02)
        finally:
            ticking.cancel()
            await asyncio.gather(ticking, return_exceptions=True)
        assert app.player.pending_ms > 60_000  # all of it queued to play, at 16 kHz
        assert worst_gap < 0.1, worst_gap
        await hub.close()


async def test_satellite_serves_one_driver_and_refuses_a_second(monkeypatch, caplog):
    from satellite import driver as satellite_driver

    async with satellite() as app:
        first = await connect(app.server.port, "first")
        await first.send(RunSatellite().event())
        await first.send(Ping().event())
        await next_event(first, "pong")
        for _ in range(20):  # a client looping connections gets nothing but the refusal
            second = await connect(app.server.port, "second")
            error = await next_event(second, "error")
            assert error.data["code"] == "already_driven", error.data
            assert await second.read() is None  # and the connection is closed
            await second.close()
        assert app.core.refused_drivers == 20
        assert sum("refused" in r.getMessage() for r in caplog.records) <= 5  # bounded: 5 a minute, then a count
        await first.send(Ping().event())
        await next_event(first, "pong")  # the owner was not disturbed
        # A driver that died without closing (silent for longer than the idle limit) is replaced.
        monkeypatch.setattr(satellite_driver, "DRIVER_IDLE_S", 0.3)
        await asyncio.sleep(0.5)
        third = await connect(app.server.port, "third")
        await third.send(Describe().event())
        assert (await next_event(third, "info")).data["satellite"]["name"] == "kitchen"
        for peer in (first, third):
            await peer.close()


async def test_takeover_setting_lets_the_newest_connection_win():
    async with satellite(wyoming={"host": "127.0.0.1", "port": 0, "takeover": True}) as app:
        first = await connect(app.server.port, "first")
        await first.send(RunSatellite().event())
        await first.send(Ping().event())
        await next_event(first, "pong")
        second = await connect(app.server.port, "second")
        await second.send(Describe().event())
        await next_event(second, "info")
        assert await asyncio.wait_for(first.read(), 5) is None  # the first was closed
        await second.close()


async def test_satellite_port_defaults_to_this_machine_and_the_brokers_host():
    mqtt = {"host": "127.0.0.2", "port": 1, "username": "kitchen", "password": "x", "reconnect_max_s": 5}
    async with satellite(mqtt=mqtt) as app:
        assert app.server.allowed == {"127.0.0.1", "::1", "127.0.0.2"}
        stranger = await connect(app.server.port, "stranger", local="127.0.0.3")
        assert (await next_event(stranger, "error")).data["code"] == "not_allowed"
        await stranger.close()
        owner = await connect(app.server.port, "hub", local="127.0.0.2")
        await owner.send(Describe().event())
        await next_event(owner, "info")
        await owner.close()
    async with satellite(wyoming={"host": "127.0.0.1", "port": 0, "allow": ["any"]}, mqtt=mqtt) as app:
        assert app.server.allowed is None
    # Host names (what Ansible writes: the hub's inventory name) are resolved.
    async with satellite(wyoming={"host": "127.0.0.1", "port": 0, "allow": ["localhost", "192.0.2.7"]}) as app:
        assert app.server.allowed is not None and {"127.0.0.1", "192.0.2.7"} <= app.server.allowed


@contextlib.asynccontextmanager
async def hub_service(hub_models) -> AsyncIterator[int]:
    from hub.adapters.wyoming_service import WyomingService

    service = WyomingService(WyomingServiceSettings(port=0), hub_models)
    await service.start()
    try:
        yield service.port
    finally:
        await service.close()


async def test_hub_stt_refuses_bad_formats_and_caps_audio_in_bytes(hub_models, speech):
    async with hub_service(hub_models) as port:
        client = await connect(port)
        for name, fmt in BAD_FORMATS.items():
            if name != "odd byte count":  # audio-start carries no bytes
                await client.send(Event(type="transcribe", data={"language": "en"}))
                await client.send(Event(type="audio-start", data={"rate": fmt[0], "width": fmt[1], "channels": fmt[2]}))
                error = await next_event(client, "error")
                assert error.data["code"] == "bad_audio_format", (name, error.data)
            await client.send(Event(type="transcribe", data={"language": "en"}))
            await client.send(chunk(*fmt))  # a chunk without audio-start is checked the same way
            assert (await next_event(client, "error")).data["code"] == "bad_audio_format", name
        # 31 s at 8 kHz is refused as too long: the cap is seconds of the declared format, in bytes.
        await client.send(Event(type="transcribe", data={"language": "en"}))
        await client.send(AudioStart(rate=8000, width=2, channels=1).event())
        for _ in range(31):
            await client.send(chunk(8000, 2, 1, 16000))
        assert (await next_event(client, "error")).data["code"] == "too_long"
        # And a good 8 kHz utterance is resampled (off the event loop) and transcribed on the same connection.
        from hub.pipeline.tts import resample_pcm

        pcm = resample_pcm(speech("What time is it?"), 16000, 8000)
        await client.send(Event(type="transcribe", data={"language": "en"}))
        await client.send(AudioStart(rate=8000, width=2, channels=1).event())
        await client.send(Event(type="audio-chunk", data={"rate": 8000, "width": 2, "channels": 1}, payload=pcm))
        await client.send(AudioStop().event())
        transcript = await next_event(client, "transcript", 60)
        assert "time" in transcript.data["text"].lower()
        await client.close()


async def test_hub_service_bounds_connections_and_closes_idle_ones(hub_models, monkeypatch):
    import hub.adapters.wyoming_service as service_module

    monkeypatch.setattr(service_module, "IDLE_TIMEOUT_S", 0.5)
    async with hub_service(hub_models) as port:
        peers = [await connect(port, f"c{i}") for i in range(service_module.MAX_CLIENTS)]
        await asyncio.sleep(0.1)
        extra = await connect(port, "extra")
        assert (await next_event(extra, "error")).data["code"] == "busy"
        await extra.close()
        for peer in peers:  # all idle: each is told so and closed
            assert (await next_event(peer, "error", 3)).data["code"] == "idle"
            await peer.close()
        again = await connect(port, "again")
        await again.send(Describe().event())
        await next_event(again, "info")
        await again.close()


async def test_hub_refuses_bad_microphone_audio_from_a_satellite(hub_models, tmp_path):
    """A satellite (or whatever answers at its address) streaming a bad format gets an error, not a traceback."""
    from wyoming.info import Attribution, Info, Satellite

    from hub.app import Hub
    from hub.settings import HubSettings

    errors: asyncio.Queue[Event] = asyncio.Queue()

    async def fake_satellite(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = WyomingPeer(reader, writer, "hub")
        while (event := await peer.read()) is not None:
            if event.type == "describe":
                attribution = Attribution(name="probe", url="")
                await peer.send(Info(satellite=Satellite(name="kitchen", attribution=attribution, installed=True,
                                                         description="probe", version="1")).event())
            elif event.type == "run-satellite":
                await peer.send(Event(type="run-pipeline", data={"start_stage": "asr", "end_stage": "tts"}))
                for fmt in BAD_FORMATS.values():
                    await peer.send(chunk(*fmt))
            elif event.type == "error":
                await errors.put(event)

    server = await asyncio.start_server(fake_satellite, "127.0.0.1", 0)
    uri = f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    hub = Hub(HubSettings.model_validate({"data_dir": str(tmp_path / "hub"), "satellites": [uri],
                                          "mqtt": {"enabled": False}, "wyoming": {"enabled": False}}), hub_models)
    await hub.start()
    try:
        first = await asyncio.wait_for(errors.get(), 10)
        assert first.data["code"] == "bad_audio_format", first.data
    finally:
        await hub.close()
        server.close()


def test_allow_lists_and_satellites_can_be_given_on_the_command_line():
    """Only TOML could set them: the list flags crashed with AttributeError ('object' has no 'append')."""
    from common.settings import parse_settings
    from hub.settings import HubSettings

    settings = parse_settings(SatelliteSettings, ["--wyoming-allow", "192.0.2.7", "--wyoming-allow", "any"],
                              "satellite", "")
    assert settings.wyoming.allow == ["192.0.2.7", "any"]
    hub = parse_settings(HubSettings, ["--satellites", "tcp://192.0.2.8:10700", "--wyoming-allow", "192.0.2.9"],
                         "hub", "")
    assert [s.uri for s in hub.satellites] == ["tcp://192.0.2.8:10700"] and hub.wyoming.allow == ["192.0.2.9"]
