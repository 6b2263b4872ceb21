"""Property-based tests on everything that parses outside input: Wyoming frames and MQTT payloads.

No input may crash, hang or be half-parsed: a frame is an event, a clean end, or a FrameError with
a stable code; an MQTT payload is a validated model or a PayloadError. Hypothesis reports the
number of cases it ran (`pytest --hypothesis-show-statistics`).
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import codec
from protocol.framing import FrameError, read_frame
from protocol.topics import ALL_SATELLITES, ConversationTopic, HubTopic, SatelliteTopic, Topics

TOPICS = Topics()
EVERY_TOPIC = (
    [TOPICS.satellite("kitchen", leaf) for leaf in SatelliteTopic]
    + [TOPICS.conversation("kitchen", leaf) for leaf in ConversationTopic]
    + [TOPICS.hub(leaf) for leaf in HubTopic]
    + [TOPICS.command("kitchen"), TOPICS.command(ALL_SATELLITES)]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6),
    max_leaves=20,
)
frame_headers = st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.text(max_size=20), st.integers(), st.none()),
    "data": json_values,
    "data_length": st.one_of(st.integers(min_value=-5, max_value=10**9), st.text(max_size=5)),
    "payload_length": st.one_of(st.integers(min_value=-5, max_value=10**12), st.floats()),
    "version": st.text(max_size=8),
})


def _read(raw: bytes):
    async def go():
        reader = asyncio.StreamReader(limit=16 * 1024 + 1)
        reader.feed_data(raw)
        reader.feed_eof()
        return await asyncio.wait_for(read_frame(reader), 5)
    return asyncio.run(go())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash_the_frame_reader(raw: bytes):
    try:
        _read(raw)
    except FrameError as err:
        assert err.code in {"bad_json", "bad_header", "too_large", "truncated", "header_too_large"}


@settings(max_examples=400, deadline=None)
@given(frame_headers, st.binary(max_size=256))
def test_structured_but_wrong_headers_are_refused_by_code(header, tail: bytes):
    raw = json.dumps(header, allow_nan=True).encode() + b"\n" + tail
    try:
        event = _read(raw)
    except FrameError as err:
        assert err.code in {"bad_json", "bad_header", "too_large", "truncated", "header_too_large"}
        return
    # Whatever was accepted is a well-formed event with a non-empty string type.
    assert event is None or (isinstance(event.type, str) and event.type and isinstance(event.data, dict))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(EVERY_TOPIC), st.one_of(json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
                                               st.binary(max_size=512)))
def test_any_payload_on_any_topic_is_a_model_or_a_clear_error(topic: str, raw: bytes):
    try:
        message = codec.decode(TOPICS, topic, raw)
    except codec.PayloadError as err:
        assert err.code and str(err)
        return
    # Accepted means fully valid: it re-encodes and decodes to the same model.
    assert codec.decode(TOPICS, topic, codec.encode(message)) == message


def test_oversized_payload_is_refused_before_parsing():
    raw = b'{"satellite": "' + b"k" * (codec.MAX_PAYLOAD_BYTES + 10) + b'"}'
    try:
        codec.decode(TOPICS, TOPICS.satellite("kitchen", SatelliteTopic.STATE), raw)
    except codec.PayloadError as err:
        assert err.code == "too_large"
    else:
        raise AssertionError("accepted an oversized payload")


async def test_malformed_frames_get_an_error_event_and_the_service_keeps_serving(hub_models, tmp_path):
    from hub.app import Hub
    from hub.settings import HubSettings

    hub = Hub(HubSettings.model_validate({"data_dir": str(tmp_path), "mqtt": {"enabled": False},
                                          "wyoming": {"port": 0}}), hub_models)
    await hub.start()
    try:
        for garbage, code in ((b"this is not json\n", "bad_json"),
                              (b'{"type": "audio-chunk", "payload_length": 99999999999}\n', "too_large"),
                              (b"x" * 20000, "header_too_large")):
            reader, writer = await asyncio.open_connection("127.0.0.1", hub.wyoming.port)
            writer.write(garbage)
            await writer.drain()
            header = json.loads(await asyncio.wait_for(reader.readline(), 10))
            body = json.loads(await reader.readexactly(header["data_length"])) if header.get("data_length") else {}
            assert header["type"] == "error" and {**header.get("data", {}), **body}["code"] == code
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed after a bad frame
            writer.close()
        # Still serving.
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.wyoming.port)
        writer.write(b'{"type": "describe"}\n')
        await writer.drain()
        assert json.loads(await asyncio.wait_for(reader.readline(), 10))["type"] == "info"
        writer.close()
    finally:
        await hub.close()
