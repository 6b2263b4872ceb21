"""The learning layer tunes a room from real turns through the real hub (fake models, real VAD and learner).

People in this room pause for 0.8 s in the middle of a command. The hub's default end-of-speech window
(0.7 s) cuts them off after "Turn on the" every time; after enough of those turns the learner widens
the room's window and the whole sentence is heard.
"""

from __future__ import annotations

import pytest

from hub.conversation.bus import EventRecorder
from hub.conversation.events import EventKind
from hub.learning.contract import END_OF_SPEECH
from testbed.fakes import ScriptedSpeechToText, fake_models
from testbed.simsat import SimSatellite
from testbed.speech_corpus import silence
from tests.fast_rig import fast_hub, field, turn_ended

pytestmark = pytest.mark.timeout(60)

PAUSE_S = 0.8
"""Longer than the default window (700 ms, which cuts 56 ms before speech resumes) and shorter than the
learned one (900 ms; the VAD measures this pause as 864 ms)."""


async def test_a_room_where_people_pause_mid_command_learns_to_wait_for_the_end(espeak, tmp_path):
    stt = ScriptedSpeechToText()
    command = stt.teach((espeak("Turn on the"), "Turn on the"), (silence(PAUSE_S), ""),
                        (espeak("kitchen light."), "kitchen light."))
    kitchen = SimSatellite("kitchen", area="Kitchen")
    await kitchen.start()
    async with fast_hub(tmp_path, fake_models(stt), [kitchen]) as hub:
        recorder = EventRecorder(hub.bus)
        assert hub.learner.value("Kitchen", END_OF_SPEECH) == 700
        turns = 0
        while hub.sessions["kitchen"].endpoint is None and turns < 20:
            ended = await turn_ended(recorder, kitchen, command)
            turns += 1
            assert field(ended, "transcript") == "Turn on the" and field(ended, "handler") == "ask_again"
        learned = hub.learner.value("Kitchen", END_OF_SPEECH)
        endpoint = hub.sessions["kitchen"].endpoint
        ended = await turn_ended(recorder, kitchen, command)
        windows = [field(e, "silence_ms") for e in recorder.events if e.kind is EventKind.SPEECH_ENDED]
    await kitchen.close()

    # Ten cut-offs are the evidence the learner needs; the eleventh turn's transcript judged the tenth.
    assert turns == 11
    assert learned == 900 and endpoint is not None and endpoint.silence_ms == 900
    assert windows == [700] * turns + [900]
    assert field(ended, "transcript") == "Turn on the kitchen light."  # heard whole at last
    assert kitchen.transcripts[-1] == "Turn on the kitchen light."
    assert field(ended, "handler") != "ask_again"
