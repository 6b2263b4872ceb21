"""The satellite's and the hub's end-of-speech deciders apply one rule with one set of defaults.

Each runs its own VAD (the satellite WebRTC's behind the noise-floor gate, the hub silero) on the same
real speech, block by block as the satellite streams it; what a person notices is that both end a
command at the same moment, for the same reason: after its words and the silence window, after 4 s of
nobody speaking, or at the 15 s limit.
"""

from __future__ import annotations

import pytest

from hub.pipeline.endpointing import Endpointer, EndpointSettings
from hub.settings import HubSettings
from protocol.audio import MIC_CHUNK_MS, MIC_CHUNK_SAMPLES, MIC_FORMAT
from protocol.end_of_speech import MAX_SPEECH_MS, NO_SPEECH_MS, SILENCE_MS, SpeechEnd
from satellite.dsp.vad import EndOfSpeech, speech_detector
from satellite.settings import SatelliteSettings
from testbed.audio_fixtures import noise, silence
from tests.fast_rig import Speech

BLOCK = MIC_CHUNK_SAMPLES * MIC_FORMAT.width


@pytest.fixture(scope="module")
def espeak() -> Speech:
    return Speech()


def both_decide(pcm: bytes) -> dict[str, tuple[SpeechEnd | None, float]]:
    """Feed ``pcm`` in the satellite's blocks to both deciders with their shipped settings: each one's
    reason and the audio heard when it decided, ms."""
    vad = SatelliteSettings.model_validate({"id": "kitchen"}).vad
    detector = speech_detector(vad.engine, vad.threshold, vad.aggressiveness, noise_margin_db=vad.noise_margin_db,
                               noise_window_s=vad.noise_window_s)
    satellite = EndOfSpeech(vad.silence_ms, vad.no_speech_ms, vad.max_ms)
    conversation = HubSettings.model_validate({}).conversation
    hub = Endpointer(EndpointSettings(silence_ms=conversation.silence_ms, max_ms=conversation.max_speech_ms))
    decided: dict[str, tuple[SpeechEnd | None, float]] = {}
    for offset in range(0, len(pcm) - BLOCK + 1, BLOCK):
        block, heard_ms = pcm[offset:offset + BLOCK], MIC_FORMAT.duration_ms(offset + BLOCK)
        if "satellite" not in decided and satellite.feed(block, detector.is_speech(block)):
            decided["satellite"] = (satellite.reason, heard_ms)
        if "hub" not in decided and hub.feed(block, heard_ms / 1000):
            decided["hub"] = (hub.reason, heard_ms)
    return decided


def test_the_shipped_defaults_are_the_same_on_both_sides():
    vad = SatelliteSettings.model_validate({"id": "kitchen"}).vad
    conversation = HubSettings.model_validate({}).conversation
    endpoint = EndpointSettings()
    assert (vad.silence_ms, vad.no_speech_ms, vad.max_ms) == (SILENCE_MS, NO_SPEECH_MS, MAX_SPEECH_MS)
    assert (endpoint.silence_ms, endpoint.no_speech_ms, endpoint.max_ms) == (SILENCE_MS, NO_SPEECH_MS, MAX_SPEECH_MS)
    assert (conversation.silence_ms, conversation.max_speech_ms) == (SILENCE_MS, MAX_SPEECH_MS)


def test_a_command_ends_on_the_silence_after_it_on_both_sides(espeak):
    command = espeak("Turn on the kitchen light.")
    decided = both_decide(silence(0.3) + command + silence(3.0))
    spoken_ms = 300 + MIC_FORMAT.duration_ms(len(command))
    for side in ("satellite", "hub"):
        reason, at_ms = decided[side]
        assert reason is SpeechEnd.SILENCE, side
        # After the words and the window, give or take the voice's own trailing quiet and a block.
        assert spoken_ms + SILENCE_MS - 400 <= at_ms <= spoken_ms + SILENCE_MS + 2 * MIC_CHUNK_MS, side
    assert abs(decided["satellite"][1] - decided["hub"][1]) <= 300


def test_nobody_speaking_ends_after_four_seconds_on_both_sides():
    decided = both_decide(noise(6.0, -60.0))
    assert decided == {"satellite": (SpeechEnd.NO_SPEECH, NO_SPEECH_MS), "hub": (SpeechEnd.NO_SPEECH, NO_SPEECH_MS)}


def test_a_room_that_never_stops_talking_is_cut_at_the_limit_on_both_sides(espeak):
    chatter = espeak("And then we went to the market and bought apples and pears and plums, and then we "
                     "walked along the river for a long while and talked about the summer and the garden.")
    pcm = (chatter * 8)[:int(MIC_FORMAT.bytes_per_second * 17)]
    decided = both_decide(pcm)
    assert decided["satellite"][0] is SpeechEnd.MAX_LENGTH and decided["hub"][0] is SpeechEnd.MAX_LENGTH
    assert decided["satellite"][1] == decided["hub"][1]  # the first 80 ms block at or past the limit
    assert MAX_SPEECH_MS <= decided["hub"][1] < MAX_SPEECH_MS + MIC_CHUNK_MS
