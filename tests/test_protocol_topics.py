"""Topics come only from ``protocol.topics``: built, parsed and validated in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from protocol.topics import ALL_SATELLITES, ConversationTopic, HubTopic, SatelliteTopic, TopicError, Topics

REPO = Path(__file__).resolve().parent.parent


def test_tree_is_versioned_and_rooted() -> None:
    topics = Topics("house")
    assert topics.satellite("kitchen", SatelliteTopic.STATE) == "house/v1/satellite/kitchen/state"
    assert topics.command("kitchen") == "house/v1/command/kitchen"
    assert topics.command(ALL_SATELLITES) == "house/v1/command/all"
    assert topics.conversation("kitchen", ConversationTopic.TURN) == "house/v1/conversation/kitchen/turn"
    assert topics.hub(HubTopic.LEARNING) == "house/v1/hub/learning"


@pytest.mark.parametrize("bad", ["", "Kitchen", "a/b", "+", "#", "all", "x" * 65, "-lead"])
def test_bad_satellite_ids_are_refused(bad: str) -> None:
    with pytest.raises(TopicError):
        Topics().satellite(bad, SatelliteTopic.STATE)


@pytest.mark.parametrize("bad", ["", "a/+", "#", "/voice"])
def test_bad_roots_are_refused(bad: str) -> None:
    with pytest.raises(TopicError):
        Topics(bad)


def test_every_built_topic_parses_back() -> None:
    topics = Topics()
    for leaf in SatelliteTopic:
        parsed = topics.parse(topics.satellite("bedroom", leaf))
        assert (parsed.area, parsed.device_id, parsed.leaf) == ("satellite", "bedroom", leaf.value)
    for leaf in HubTopic:
        assert topics.parse(topics.hub(leaf)).leaf == leaf.value
    assert topics.parse(topics.command("all")).device_id == "all"


def test_foreign_topics_do_not_parse() -> None:
    with pytest.raises(TopicError):
        Topics().parse("voice/v2/satellite/kitchen/state")
    with pytest.raises(TopicError):
        Topics().parse("voice/v1/satellite/kitchen/state/extra")


def test_no_topic_string_is_written_outside_protocol() -> None:
    """A literal like "v1/satellite" anywhere but protocol/ would be a second definition of the wire."""
    offenders = []
    pattern = re.compile(r"""["'][^"']*v1/(satellite|hub|command|conversation)""")
    for package in ("hub", "satellite", "common"):
        for path in (REPO / package).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
