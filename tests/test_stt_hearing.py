"""Hearing commands: the real whisper, several voices, noise; what the hub does with what it heard.

Speech comes from piper (the ``speech`` fixture) and espeak-ng voices; noise is added at 10 dB SNR.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bench.accuracy import at_speaking_level, espeak, with_snr
from common import models
from hub.app import Hub
from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.pipeline.stt import SpeechToText
from hub.pipeline.transcript import ASK_AGAIN, Confidence, Doubt, DoubtSettings, clean, doubt
from hub.settings import HubSettings
from testbed.audio_fixtures import silence
from testbed.simsat import SimSatellite

pytestmark = pytest.mark.timeout(600)

ESPEAK = {"espeak en-us": ["-v", "en-us", "-s", "165"], "espeak en+f3": ["-v", "en+f3", "-s", "150"],
          "espeak en-gb slow": ["-v", "en-gb", "-s", "135"]}


def voices(speech, text: str) -> dict[str, bytes]:
    said = {"piper": at_speaking_level(speech(text))} | {name: espeak(text, args) for name, args in ESPEAK.items()}
    return {name: silence(0.2) + pcm + silence(0.3) for name, pcm in said.items()}


def pink(seconds: float, level_dbfs: float, seed: int) -> bytes:
    n = int(16000 * seconds)
    rng = np.random.default_rng(seed)
    spectrum = (rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)) / np.sqrt(
        np.maximum(np.fft.rfftfreq(n, 1 / 16000), 20.0))
    x = np.fft.irfft(spectrum, n)
    x *= 32768 * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(x**2))
    return np.clip(x, -32768, 32767).astype(np.int16).tobytes()


def transcribe(stt: SpeechToText, pcm: bytes, **kwargs):
    return asyncio.run(stt.transcribe(pcm, "test", **kwargs))


def test_decoding_is_deterministic_on_noisy_speech(hub_models, speech) -> None:
    stt: SpeechToText = hub_models.stt
    for n, (name, pcm) in enumerate(voices(speech, "Set the thermostat to twenty one degrees.").items()):
        noisy = with_snr(pcm, 5, seed=n)
        runs = [transcribe(stt, noisy) for _ in range(3)]
        assert len({(r.text, r.avg_logprob, r.no_speech_prob) for r in runs}) == 1, (name, runs)


def test_confidence_separates_speech_from_noise(hub_models, speech) -> None:
    stt: SpeechToText = hub_models.stt
    settings = DoubtSettings()
    for name, pcm in voices(speech, "Turn off the lights in the bedroom.").items():
        heard = transcribe(stt, with_snr(pcm, 10, seed=1))
        assert "lights" in heard.text.lower(), (name, heard)
        assert heard.avg_logprob > settings.min_avg_logprob and heard.no_speech_prob < settings.max_no_speech_prob
        assert doubt(clean(heard.text), Confidence(heard.avg_logprob, heard.no_speech_prob), settings) is None
    for seed, level in enumerate((-45, -35, -25)):
        heard = transcribe(stt, pink(2.0, level, seed))
        judged = doubt(clean(heard.text), Confidence(heard.avg_logprob, heard.no_speech_prob), settings)
        # Noise alone is never a request: nothing is transcribed, or the transcript is doubted.
        assert not heard.text.strip() or judged is not None, (level, heard)
        assert heard.no_speech_prob > 0.2 or heard.avg_logprob < settings.min_avg_logprob, heard


def test_the_wake_word_as_vocabulary_lets_the_leftover_be_removed(hub_models, speech) -> None:
    """After a wake the hub hears "Hey Jarvis" again; told the word, whisper spells it so it can be cut off."""
    stt: SpeechToText = hub_models.stt
    command = "turn on the kitchen lights"
    saved = stt.vocabulary
    stt.vocabulary = ()
    try:
        heard = {name: transcribe(stt, pcm, vocabulary=("Hey Jarvis",))
                 for name, pcm in voices(speech, f"Hey Jarvis, {command}.").items()}
    finally:
        stt.vocabulary = saved
    assert all("jarvis" in r.text.lower() for r in heard.values()), heard
    cleaned = {name: clean(r.text, "hey_jarvis").text.lower().rstrip(".") for name, r in heard.items()}
    assert all(text == command for text in cleaned.values()), cleaned


def test_whisper_base_is_selectable_and_loads(tmp_path, speech) -> None:
    folder = models.whisper_model_dir("base", tmp_path)
    stt = SpeechToText(folder, threads=2, vocabulary=("Hey Jarvis",))
    heard = transcribe(stt, silence(0.2) + speech("Hey Jarvis, what time is it?") + silence(0.3))
    assert clean(heard.text, "hey_jarvis").text.lower().rstrip("?") == "what time is it"
    assert heard.avg_logprob > -0.5


@contextlib.asynccontextmanager
async def hub_with(broker, hub_models, satellite: SimSatellite, tmp_path: Path) -> AsyncIterator[Hub]:
    settings = HubSettings.model_validate({
        "data_dir": str(tmp_path / "hub"), "satellites": [satellite.uri], "mqtt": broker.settings("hub").model_dump(),
        "wyoming": {"port": 0},
    })
    hub = Hub(settings, hub_models)
    await hub.start()
    try:
        await asyncio.wait_for(satellite.running.wait(), 10)
        yield hub
    finally:
        await hub.close()


async def test_commands_after_the_wake_word_are_carried_out_and_a_fragment_is_asked_again(
        broker, hub_models, speech, tmp_path) -> None:
    kitchen = SimSatellite("kitchen")
    await kitchen.start()
    async with hub_with(broker, hub_models, kitchen, tmp_path) as hub:
        recorder = EventRecorder(hub.bus)
        # The satellite streams from before the wake word: the hub hears it again, then the request.
        await kitchen.say(speech("Hey Jarvis, um, what time is it?"), preroll_ms=1200)
        first = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED, 60)
        await kitchen.say(speech("Hey Jarvis."), preroll_ms=1200)
        second = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e is not first, 60)
        await kitchen.say(speech("Hey Jarvis, set a timer for two minutes, thank you."), preroll_ms=1200)
        third = await recorder.wait_for(lambda e: e.kind is EventKind.TURN_ENDED and e not in (first, second), 60)
        reports = {r.turn_id: r for r in hub.timeline.reports}
    await kitchen.close()

    transcripts = [e for e in recorder.events if e.kind is EventKind.TRANSCRIPT]
    started = [e for e in recorder.events if e.kind is EventKind.TURN_STARTED]
    assert all(e.data.wake.preroll_ms == 1200 for e in started)  # the satellite said its stream holds the wake phrase
    assert "jarvis" in transcripts[0].data.text.lower()  # the original is kept
    assert transcripts[0].data.cleaned.lower().rstrip("?") == "what time is it"
    assert transcripts[0].data.avg_logprob > -1.0 and transcripts[0].data.no_speech_prob < 0.6
    assert transcripts[0].data.doubt is None
    assert first.data.handler == "time" and first.data.response.startswith("It's ")
    report = reports[first.turn_id]  # what MQTT's turn report carries
    assert "jarvis" in report.transcript.lower() and report.heard == transcripts[0].data.cleaned
    assert report.stt_logprob == transcripts[0].data.avg_logprob and report.stt_no_speech is not None

    assert transcripts[1].data.doubt == Doubt.FRAGMENT and transcripts[1].data.cleaned == ""
    asked = [e for e in recorder.events if e.kind is EventKind.ASKED_TO_REPEAT]
    assert len(asked) == 1 and asked[0].data.reason == Doubt.FRAGMENT
    assert second.data.handler == "ask_again" and second.data.response in ASK_AGAIN
    assert not any(e.kind is EventKind.LLM_STARTED for e in recorder.events)  # nothing went to the LLM to parrot
    assert len(kitchen.answers) >= 2  # the question was spoken
    # Politeness around a command does not send it to the LLM: "..., thank you" still starts the timer.
    assert third.data.handler == "timer_start", third.data
    assert not any(e.kind is EventKind.INTENT and e.turn_id == second.turn_id for e in recorder.events)
