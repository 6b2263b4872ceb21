"""Ask, then listen: after "Sorry, I didn't catch that." the satellite's microphone opens again by itself
once the question has played, so the person repeats without the wake word; once in a row, never a loop.

The hub side runs the real hub on fake models (tests/fast_rig.py) against a simulated satellite that speaks
our control extension; the satellite side runs our real satellite (wake model, VAD, player on the file
backend) driven by a Wyoming client, as tests/test_satellite.py does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite

from common.wyoming_peer import WyomingPeer
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.events import ConversationEvent, EventKind
from hub.pipeline.ports import Transcription
from hub.settings import HubSettings
from protocol.audio import MIC_CHUNK_SAMPLES, MIC_FORMAT
from protocol.payloads import SatellitePhase
from protocol.wyoming_events import CONTROL_EVENTS, Listen, SatelliteStateEvent, SetMute
from satellite.app import SatelliteApp
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import noise, silence
from testbed.fakes import ScriptedLanguageModel, ScriptedSpeechToText, SilentSpeech, fake_models
from testbed.simsat import SimSatellite
from tests.fast_rig import fast_hub, field, turn_ended
from tests.test_satellite import FakeHub, _handled, satellite_with_hub

pytestmark = pytest.mark.timeout(120)

CHUNK_BYTES = MIC_CHUNK_SAMPLES * MIC_FORMAT.width


class ListeningSatellite(SimSatellite):
    """A simulated satellite with our control extension: it says its state after ``run-satellite`` (so the
    hub sends it control events) and answers ``listen`` by streaming the next queued clip, no wake word."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.follow_ups: list[bytes] = []
        self._streams: list[asyncio.Task[None]] = []

    def listens(self) -> list[int]:
        """Where each ``listen`` is among the events received."""
        return [i for i, event in enumerate(self.received) if Listen.is_type(event.type)]

    async def _handle(self, peer: WyomingPeer, event: Event) -> None:
        await super()._handle(peer, event)
        if RunSatellite.is_type(event.type):
            await peer.send(SatelliteStateEvent(volume=50, muted=False).event())
        elif Listen.is_type(event.type) and self.follow_ups:
            # Its answer has played (it sent 'played' on audio-stop), so it opens the microphone at once.
            self._streams.append(asyncio.create_task(self._stream(peer, self.follow_ups.pop(0))))

    async def _stream(self, peer: WyomingPeer, pcm: bytes) -> None:
        fmt = {"rate": MIC_FORMAT.rate, "width": MIC_FORMAT.width, "channels": MIC_FORMAT.channels}
        self._streaming = True
        await peer.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await peer.send(AudioStart(**fmt).event())
        audio = pcm + bytes(int(MIC_FORMAT.bytes_per_second * 3.0))
        for offset in range(0, len(audio), CHUNK_BYTES):
            if not self._streaming:
                break
            await peer.send(AudioChunk(audio=audio[offset:offset + CHUNK_BYTES], **fmt).event())
            await asyncio.sleep(0)
        with contextlib.suppress(ConnectionError):
            await peer.send(AudioStop().event())

    async def close(self) -> None:
        for task in self._streams:
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        await super().close()


def _ended_after(recorder: EventRecorder, turn_id: str | None):
    return lambda e: e.kind is EventKind.TURN_ENDED and e.turn_id != turn_id


def _started(recorder: EventRecorder, turn_id: str | None) -> ConversationEvent:
    return next(e for e in recorder.events if e.kind is EventKind.TURN_STARTED and e.turn_id == turn_id)


def test_listen_is_a_control_event_that_round_trips():
    assert Listen in CONTROL_EVENTS
    event = Listen().event()
    assert Listen.is_type(event.type) and Listen.from_event(Event(type=event.type, data={})) == Listen()


async def test_after_asking_again_the_satellite_listens_and_the_repeat_is_acted_on_without_a_wake_word(
        espeak, tmp_path):
    stt, llm, tts = ScriptedSpeechToText(), ScriptedLanguageModel(), SilentSpeech()
    mumbled = stt.teach((espeak("What is the time?"), "What is the time?"), avg_logprob=-1.6)
    clear = stt.teach((espeak("What time is it?"), "What time is it?"))
    kitchen = ListeningSatellite("kitchen")
    kitchen.follow_ups.append(clear)
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, llm, tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        doubted = await turn_ended(recorder, kitchen, mumbled)
        repeat = await recorder.wait_for(_ended_after(recorder, doubted.turn_id), 10)
        follow_up_start = _started(recorder, repeat.turn_id)
        await asyncio.sleep(0.3)  # time for a second listen, if one were (wrongly) sent
    await kitchen.close()

    assert field(doubted, "handler") == "ask_again" and tts.said[0] == field(doubted, "response")
    assert "sorry" in field(doubted, "response").lower()
    # One listen, and only once the question's audio was all sent (the satellite then plays it out first).
    listens = kitchen.listens()
    assert len(listens) == 1
    question_end = next(i for i, e in enumerate(kitchen.received) if AudioStop.is_type(e.type))
    assert kitchen.answers[0].done.is_set() and question_end < listens[0]
    # The repeat was a turn of its own, with no wake word, and was acted on.
    assert field(follow_up_start, "wake") is None
    assert field(repeat, "handler") == "time" and tts.said[1].startswith("It's ")
    assert field(repeat, "transcript") == "What time is it?" and llm.streams == []


async def test_a_doubtful_repeat_is_asked_again_but_the_microphone_is_not_opened_a_second_time(espeak, tmp_path):
    stt, tts = ScriptedSpeechToText(), SilentSpeech()
    mumbled = stt.teach((espeak("What is the time?"), "What is the time?"), avg_logprob=-1.6)
    mumbled_again = stt.teach((espeak("Set a timer for some minutes."), "Set a timer for some minutes."),
                              avg_logprob=-1.8)
    kitchen = ListeningSatellite("kitchen")
    kitchen.follow_ups += [mumbled_again, mumbled]  # the second is there to be streamed if a listen came
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, tts=tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        doubted = await turn_ended(recorder, kitchen, mumbled)
        repeat = await recorder.wait_for(_ended_after(recorder, doubted.turn_id), 10)
        await asyncio.sleep(0.5)
        turns = [e for e in recorder.events if e.kind is EventKind.TURN_ENDED]
    await kitchen.close()

    assert field(doubted, "handler") == "ask_again" and field(repeat, "handler") == "ask_again"
    assert len(tts.said) == 2 and all("sorry" in said.lower() for said in tts.said)
    assert len(kitchen.listens()) == 1 and len(turns) == 2  # no loop: the person wakes it again
    assert kitchen.follow_ups == [mumbled]


async def test_with_listen_after_asking_off_or_after_a_clear_turn_no_listen_is_sent(espeak, tmp_path):
    stt, tts = ScriptedSpeechToText(), SilentSpeech()
    mumbled = stt.teach((espeak("What is the time?"), "What is the time?"), avg_logprob=-1.6)
    clear = stt.teach((espeak("What time is it?"), "What time is it?"))
    kitchen = ListeningSatellite("kitchen")
    kitchen.follow_ups.append(clear)
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt, tts=tts), [kitchen], listen_after_asking=False) as hub:
        recorder = EventRecorder(hub.bus)
        doubted = await turn_ended(recorder, kitchen, mumbled)
        answered = await turn_ended(recorder, kitchen, clear)
        await asyncio.sleep(0.5)
    await kitchen.close()
    assert field(doubted, "handler") == "ask_again" and field(answered, "handler") == "time"
    assert kitchen.listens() == [] and kitchen.follow_ups == [clear]

    kitchen = ListeningSatellite("kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path / "on", fake_models(stt, tts=tts), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        answered = await turn_ended(recorder, kitchen, clear)
        await asyncio.sleep(0.5)
    await kitchen.close()
    assert field(answered, "handler") == "time" and kitchen.listens() == []  # only asking again listens


class DoubtsTheFirstThing(ScriptedSpeechToText):
    """Whatever the first turn's audio is, it is a guess (a mumble); after that it hears as taught (silence:
    nobody spoke). The satellite's clean-up changes the bytes, so a taught clip would not match them."""

    async def transcribe(self, pcm: bytes, satellite: str, *, vocabulary: Sequence[str] = ()) -> Transcription:
        heard = await super().transcribe(pcm, satellite, vocabulary=vocabulary)
        if len(self.calls) == 1:
            return Transcription("What is the time?", heard.audio_ms, heard.compute_ms, avg_logprob=-1.6,
                                 no_speech_prob=0.01)
        return heard


async def test_our_satellite_and_hub_ask_then_listen_and_a_silent_follow_up_ends_quietly(espeak, tmp_path):
    stt, tts = DoubtsTheFirstThing(), SilentSpeech()
    satellite = SatelliteSettings.model_validate({
        "id": "kitchen", "area": "Kitchen", "mqtt": {"enabled": False}, "wyoming": {"host": "127.0.0.1", "port": 0},
        "audio": {"backend": "file", "realtime": True, "output_file": str(tmp_path / "played.wav")},
    })
    app = await asyncio.to_thread(SatelliteApp, satellite)
    await app.start()
    hub = Hub(HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [f"tcp://127.0.0.1:{app.server.port}"],
        "mqtt": {"enabled": False}, "wyoming": {"enabled": False},
        "conversation": {"speculative_stt_ms": 0},  # one transcription per turn: the first is the doubted one
    }), fake_models(stt, tts=tts))
    await hub.start()
    try:
        recorder = EventRecorder(hub.bus)
        await asyncio.wait_for(app.core.hub_ready.wait(), 10)
        while "kitchen" not in hub.sessions or hub.sessions["kitchen"].direct_control is None:
            await asyncio.sleep(0.02)
        app.backend.feed(espeak("What is the time?") + silence(1.0))
        await app.core.start_streaming(None)  # as the start_conversation command does: no wake model needed
        asked = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 20)
        follow_up = await recorder.wait_for(_ended_after(recorder, asked.turn_id), 20)
        streams = app.core.counters.turns
        await asyncio.sleep(1.5)
    finally:
        await hub.close()
        await app.close()
    assert field(asked, "handler") == "ask_again" and tts.said == [field(asked, "response")]
    assert field(_started(recorder, follow_up.turn_id), "wake") is None
    # Nobody spoke: the satellite ended the stream itself (its no-speech limit) and nothing was said.
    assert field(follow_up, "response") == "" and len(tts.said) == 1
    assert streams == 2 and app.core.counters.turns == 2  # no third turn: asked once, listened once


# -- our satellite -----------------------------------------------------------------------------------

FMT = {"rate": MIC_FORMAT.rate, "width": MIC_FORMAT.width, "channels": MIC_FORMAT.channels}


async def _answer_playing(hub: FakeHub, app, seconds: float) -> None:
    await hub.speak(noise(seconds, -30))
    await _handled(hub)
    assert app.core.phase is SatellitePhase.PLAYING and app.player.playing


async def test_our_satellite_starts_streaming_once_the_answer_has_played(tmp_path):
    async with satellite_with_hub(tmp_path, audio={"realtime": True}) as (app, hub):
        await _answer_playing(hub, app, 1.5)
        await hub.peer.send(Listen().event())
        await _handled(hub)
        await asyncio.sleep(0.5)
        assert hub.of("run-pipeline") == [] and app.core.phase is SatellitePhase.PLAYING  # not over the answer
        await hub.wait_for("run-pipeline", timeout=10)
        phase = app.core.phase
        kinds = [e.type for e in hub.events]
        await hub.wait_for("audio-stop", timeout=10)  # nobody speaks: the stream ends on its own
    assert kinds.index("played") < kinds.index("run-pipeline") < kinds.index("audio-start")
    assert phase is SatellitePhase.STREAMING
    assert hub.of("detection") == []  # no wake word: the hub knows this turn as the follow-up
    assert app.core.counters.false_wakes == 1 and not app.core.listen_pending


async def test_our_satellite_drops_the_listen_when_a_wake_word_comes_first(tmp_path, speech):
    wake = speech("Hey Jarvis.") + silence(0.3) + speech("Stop.") + silence(2.0)
    async with satellite_with_hub(tmp_path, audio={"echo_gain": 0.5, "realtime": True}) as (app, hub):
        app.backend.feed(silence(2.0))
        await hub.speak(speech("Once upon a time there was a dragon who lived in a castle on a hill. " * 3))
        await hub.peer.send(Listen().event())
        await _handled(hub)
        assert app.core.listen_pending
        await asyncio.sleep(1.5)
        app.backend.feed(wake)
        await hub.wait_for("interrupt", timeout=30)
        await hub.wait_for("audio-stop", timeout=30)
        await asyncio.sleep(2.0)  # idle blocks, in which a pending listen would start a stream
    assert len(hub.of("detection")) == 1 and len(hub.of("run-pipeline")) == 1  # the wake's turn only
    assert not app.core.listen_pending


async def test_our_satellite_drops_the_listen_while_muted(tmp_path):
    async with satellite_with_hub(tmp_path, audio={"realtime": True}) as (app, hub):
        await hub.peer.send(SetMute(muted=True).event())
        await _answer_playing(hub, app, 0.5)
        await hub.peer.send(Listen().event())
        await hub.wait_for("played", timeout=10)
        await hub.peer.send(SetMute(muted=False).event())  # unmuted later: the old listen is not kept
        await _handled(hub)
        await asyncio.sleep(1.0)
        assert hub.of("run-pipeline") == [] and app.core.phase is SatellitePhase.IDLE
        # Muted while the listen waits for the answer to end: dropped too.
        await _answer_playing(hub, app, 0.5)
        await hub.peer.send(Listen().event())
        await hub.peer.send(SetMute(muted=True).event())
        await hub.wait_for("played", count=2, timeout=10)
        await hub.peer.send(SetMute(muted=False).event())
        await _handled(hub)
        await asyncio.sleep(1.0)
    assert hub.of("run-pipeline") == [] and not app.core.listen_pending
