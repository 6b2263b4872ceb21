"""The hub's Wyoming client connection to one satellite, as Home Assistant makes it.

``describe`` -> ``info``, ``run-satellite``, then a read loop that routes the satellite's
events to its :class:`~hub.conversation.session.SatelliteSession`, with a ping every few seconds. A
satellite that goes away is reconnected with backoff; its open turn is abandoned. A link made
for an announced satellite drives only that satellite: a server at that address that describes
itself as another (or as no satellite) is left alone, with a warning, and retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import RunPipeline
from wyoming.snd import Played

from common.log_limit import LogLimiter
from common.wyoming_peer import WyomingPeer
from hub.adapters.satellite_control import WyomingControl
from hub.conversation.arbitration import Arbiter, WakeClaim
from hub.conversation.event_data import ArbitrationLost, SatelliteConnected, SatelliteDisconnected, Wake
from hub.conversation.events import ConversationEvent
from hub.conversation.session import SatelliteSession
from hub.pipeline.turn import Turn
from protocol.audio import MIC_FORMAT, AudioFormatError
from protocol.framing import stream_limit
from protocol.payloads import InterruptReason
from protocol.wyoming_events import (
    STOCK_WAKE_LEVEL_DBFS,
    STOCK_WAKE_SCORE,
    DetectionEvent,
    InterruptEvent,
    SatelliteStateEvent,
    audio_event_format,
    run_satellite,
)

_LOGGER = logging.getLogger(__name__)

PING_INTERVAL_S = 5.0
PONG_TIMEOUT_S = 15.0
BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


def parse_uri(uri: str) -> tuple[str, int]:
    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or not parsed.hostname or not parsed.port:
        raise ValueError(f"satellite address must look like tcp://host:port, got {uri!r}")
    return parsed.hostname, parsed.port


class SatelliteLink:
    """Owns the connection task for one satellite address."""

    def __init__(self, uri: str, session_for: Callable[[str, Info | None], SatelliteSession],
                 arbiter: Arbiter, *, on_connected: Callable[[SatelliteSession], Awaitable[None]] | None = None,
                 expected_id: str | None = None, take_over: Callable[[], None] | None = None,
                 on_refused: Callable[[str], None] = lambda text: None,
                 on_control: Callable[[SatelliteSession], None] = lambda session: None) -> None:
        self.uri = uri
        self.host, self.port = parse_uri(uri)
        self._session_for = session_for
        self._arbiter = arbiter
        self._on_connected = on_connected
        self._expected_id = expected_id
        self.session: SatelliteSession | None = None
        self.peer: WyomingPeer | None = None
        self.connected = asyncio.Event()
        self._wake: Wake | None = None
        self._audio_turn: Turn | None = None
        self._pong_seen = False
        self._last_pong = 0.0
        self._mismatch_logged = False
        self._log = LogLimiter(_LOGGER)
        self.refusal: str | None = None
        """What the satellite said when it last refused us (another client drives it); None once attached."""
        self._take_over = take_over
        """A deliberate take-over (``driver`` command): asks the satellite, once, to drop its current driver."""
        self._quick_retry_until = 0.0
        self._on_refused = on_refused
        self._on_control = on_control
        """Called when the satellite first says its state on a connection: it takes our control events."""

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands as the
                # connection fails, and the link then retried for ever (a replaced link never ended).
                async with asyncio.timeout(5.0):
                    reader, writer = await asyncio.open_connection(self.host, self.port, limit=stream_limit())
            except (OSError, TimeoutError) as err:
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                if attempt == 0:
                    _LOGGER.info("satellite %s not reachable (%s); retrying", self.uri, err)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            peer = WyomingPeer(reader, writer, f"satellite {self.uri}")
            try:
                attached = await self._serve(peer)
            finally:
                await self._disconnected(peer)
            if attached:
                attempt = 0
            elif asyncio.get_running_loop().time() < self._quick_retry_until:
                await asyncio.sleep(0.2)  # the satellite drops its driver on our request: be first to reconnect
            else:  # refused or not a satellite: do not hammer it
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1

    async def _serve(self, peer: WyomingPeer) -> bool:
        """Serve one connection; False if it never became this link's satellite."""
        await peer.send(Describe().event())
        info: Info | None = None
        while info is None:
            try:
                async with asyncio.timeout(10.0):
                    event = await peer.read()
            except TimeoutError:
                _LOGGER.warning("%s: no info within 10 s of describe", peer.label)
                return False
            if event is None:
                return False
            if Info.is_type(event.type):
                info = Info.from_event(event)
            elif event.type == "error":
                previous, self.refusal = self.refusal, str(event.data.get("text") or event.data.get("code") or "refused")
                # Retried every few seconds while another client holds it: said once, not every attempt.
                (_LOGGER.warning if self.refusal != previous else _LOGGER.debug)(
                    "%s refused us: %s", peer.label, self.refusal)
                if self._take_over is not None and event.data.get("code") == "already_driven":
                    take_over, self._take_over = self._take_over, None
                    take_over()
                    self.refusal = None  # being dealt with: only a refusal after the take-over counts
                    self._quick_retry_until = asyncio.get_running_loop().time() + 10.0
                else:
                    self._on_refused(self.refusal)
                return False
        claimed = info.satellite.name if info.satellite else None
        if self._expected_id and claimed != self._expected_id:
            if not self._mismatch_logged:
                self._mismatch_logged = True
                _LOGGER.warning("%s describes itself as %r, not %r as announced: not driving it", peer.label,
                                claimed, self._expected_id)
            return False
        session = self._session_for(self._satellite_id(info), info)
        self.session, self.peer = session, peer
        self.refusal, self._take_over = None, None
        session.attach(peer.send)
        await peer.send(run_satellite(strips_wake_phrase=True))  # hub/pipeline/transcript.py cuts the pre-roll's wake phrase
        session.services.bus.emit(ConversationEvent(session.id, SatelliteConnected(
            uri=self.uri, name=session.name, area=session.area)))
        self.connected.set()
        if self._on_connected is not None:
            await self._on_connected(session)
        _LOGGER.info("connected to satellite %s (%s, %s)", session.id, session.name, self.uri)
        pinger = asyncio.create_task(self._ping(peer), name=f"ping-{session.id}")
        try:
            while (event := await peer.read()) is not None:
                try:
                    await self._handle(session, event)
                except Exception:  # one bad event must not end the connection
                    _LOGGER.exception("%s: failed to handle %s", session.id, event.type)
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        return True

    def _satellite_id(self, info: Info) -> str:
        if self._expected_id:
            return self._expected_id
        name = info.satellite.name if info.satellite else self.host
        cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.lower()).strip("_")
        return cleaned or "satellite"

    async def _ping(self, peer: WyomingPeer) -> None:
        loop = asyncio.get_running_loop()
        self._last_pong = loop.time()
        while not peer.closed:
            await asyncio.sleep(PING_INTERVAL_S)
            # Stock wyoming-satellite 1.0 never answers pings: only hold a peer to it once it has.
            if self._pong_seen and loop.time() - self._last_pong > PONG_TIMEOUT_S:
                _LOGGER.warning("%s: no pong for %.0f s; reconnecting", peer.label, PONG_TIMEOUT_S)
                await peer.close()
                return
            with contextlib.suppress(ConnectionError):
                await peer.send(Ping().event())

    async def _disconnected(self, peer: WyomingPeer) -> None:
        self.connected.clear()
        self._audio_turn = None
        await peer.close()
        session = self.session
        if session is not None and self.peer is peer:
            self.peer = None
            await session.detach()
            session.services.bus.emit(ConversationEvent(session.id, SatelliteDisconnected(uri=self.uri)))
            _LOGGER.info("satellite %s disconnected", session.id)

    async def _handle(self, session: SatelliteSession, event: Event) -> None:
        kind = event.type
        if AudioChunk.is_type(kind):
            turn = self._audio_turn
            if turn is None:
                return  # e.g. an always-streaming satellite between turns
            if not await self._audio_ok(session, event):
                return
            if not turn.add_audio(event.payload or b""):
                self._audio_turn = None
        elif AudioStart.is_type(kind):
            await self._audio_ok(session, event)
        elif AudioStop.is_type(kind):
            if self._audio_turn is not None:
                self._audio_turn.audio_stopped()
                self._audio_turn = None
        elif DetectionEvent.is_type(kind):
            detection = DetectionEvent.from_event(event)  # a stock satellite's too, with protocol's defaults
            # near_miss: the user had to say the wake word twice; preroll: the stream holds the wake phrase
            self._wake = Wake(wake_word=detection.name, score=detection.score, level_dbfs=detection.level_dbfs,
                              near_miss=detection.near_miss, preroll_ms=detection.preroll_ms or None)
            session.services.bus.emit(ConversationEvent(session.id, self._wake))
        elif RunPipeline.is_type(kind):
            await self._run_pipeline(session)
        elif Played.is_type(kind):
            if session.turn is not None:
                session.turn.played.set()
        elif InterruptEvent.is_type(kind):
            interrupt = InterruptEvent.from_event(event)
            await session.interrupt(interrupt.reason, turn_id=interrupt.turn_id, tell_satellite=False)
        elif SatelliteStateEvent.is_type(kind):
            self._satellite_state(session, event)
        elif Pong.is_type(kind):
            self._pong_seen = True
            self._last_pong = asyncio.get_running_loop().time()
        elif kind == "error":
            _LOGGER.warning("%s reported an error: %s", session.id, event.data)

    def _satellite_state(self, session: SatelliteSession, event: Event) -> None:
        """Our satellite's volume and mute; the first on a connection also opens the Wyoming control route."""
        try:
            state = SatelliteStateEvent.from_event(event)
        except ValueError as err:
            self._log.warning("bad state", "%s: refused its satellite-state: %s", session.id, err)
            return
        session.satellite_state(volume=state.volume, muted=state.muted)
        if session.direct_control is None:
            session.direct_control = WyomingControl(session.send)
            _LOGGER.info("%s takes control events over Wyoming (volume %d%%, %s)", session.id, state.volume,
                         "muted" if state.muted else "listening")
            self._on_control(session)

    async def _run_pipeline(self, session: SatelliteSession) -> None:
        wake, self._wake = self._wake, None
        turn = session.new_turn(wake=wake)
        self._audio_turn = turn  # buffer from now: no speech is lost while the rooms are arbitrated
        claim = WakeClaim(session.id, wake.score if wake else STOCK_WAKE_SCORE,
                          wake.level_dbfs if wake else STOCK_WAKE_LEVEL_DBFS)
        if await self._arbiter.claim(claim):
            await session.start(turn)
            return
        _LOGGER.info("%s: another room answers this wake", session.id)
        if self._audio_turn is turn:
            self._audio_turn = None
        session.services.bus.emit(ConversationEvent(session.id, ArbitrationLost(wake=wake)))
        with contextlib.suppress(ConnectionError):
            await session.send(InterruptEvent(reason=InterruptReason.HUB, turn_id=None).event())
            await session.send(Transcript(text="").event())  # how a stock satellite learns to stop streaming

    async def _audio_ok(self, session: SatelliteSession, event: Event) -> bool:
        """The microphone stream is exactly MIC_FORMAT, in whole samples (protocol.audio's one check)."""
        try:
            audio_event_format(event, expected=MIC_FORMAT)
        except AudioFormatError as err:
            await self._bad_audio(session, str(err))
            return False
        return True

    async def _bad_audio(self, session: SatelliteSession, message: str) -> None:
        self._log.warning("bad audio", "%s: %s", session.id, message)
        await session.send_error(message, "bad_audio_format")
        if self._audio_turn is not None:
            self._audio_turn.audio_stopped()
            self._audio_turn = None
