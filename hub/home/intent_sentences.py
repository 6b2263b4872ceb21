"""Our own English sentences, in Home Assistant's intent format, where its data has none or too few.

Merged into ``home-assistant-intents``' English data by :func:`hub.home.intent_data.load_intents` (each
intent's ``data`` list is extended). The expansion rules (``<turn>``, ``<light>``, ``<all>`` ...) and
lists (``{brightness}``, ``{color}``) are Home Assistant's; ``{name}``, ``{area}`` and ``{floor}``
come from the home.
"""

from __future__ import annotations

from typing import Any

CUSTOM_SENTENCES: dict[str, Any] = {
    "intents": {
        "HearthStop": {"data": [{"sentences": [
            "stop [(it|that|talking|please)]", "(be quiet|quiet|shut up|silence|enough|that's enough|cancel|hush)",
        ]}]},
        "HearthMute": {"data": [{"sentences": [
            "mute [(yourself|[the|your] (microphone|mic))]", "(turn|switch) off [the|your] (microphone|mic)",
        ]}]},
        "HearthUnmute": {"data": [{"sentences": [
            "unmute [(yourself|[the|your] (microphone|mic))]", "(turn|switch) on [the|your] (microphone|mic)",
        ]}]},
        "HassToggle": {"data": [
            {"sentences": ["toggle [<the>] {name} [<light>]"],
             "requires_context": {"domain": ["light", "switch", "fan", "input_boolean", "cover"]},
             "metadata": {"slot_combination": "name_only"}},
            {"sentences": ["toggle [<all>] [<the>] {area} <light>", "toggle [(<all>|<the>)] <light> <in> [<the>] {area}"],
             "slots": {"domain": "light"}, "metadata": {"slot_combination": "area_domain"}},
            {"sentences": ["toggle [(<all>|<the>)] <light> [<here>]"], "slots": {"domain": "light"},
             "requires_context": {"area": {"slot": True}}, "metadata": {"slot_combination": "domain_only"}},
        ]},
        "HassLightSet": {"data": [
            {"sentences": [
                "(<numeric_value_set>|dim|brighten) [<the>] {area} <light> [brightness] [to] {brightness}[([ ]%)| percent]",
                "(<numeric_value_set>|dim|brighten) [(<all>|<the>)] <light> <in> [<the>] {area} to {brightness}[([ ]%)| percent]"],
             "slots": {"domain": "light"}, "metadata": {"slot_combination": "area_brightness"}},
            {"sentences": ["[<set>] [<the>] {area} <light> [color] [to] {color}"],
             "slots": {"domain": "light"}, "metadata": {"slot_combination": "area_color"}},
            {"sentences": ["(dim|brighten) [(<all>|<the>)] <light> to {brightness}[([ ]%)| percent]",
                           "<numeric_value_set> [(<all>|<the>)] <light> to {brightness}[([ ]%)| percent]"],
             "slots": {"domain": "light"}, "requires_context": {"area": {"slot": True}},
             "metadata": {"slot_combination": "brightness_only"}},
            {"sentences": ["(dim|brighten) [<the>] {name} [<light>] to {brightness}[([ ]%)| percent]"],
             "requires_context": {"domain": ["light"]}, "metadata": {"slot_combination": "name_brightness"}},
        ]},
        "HassTurnOn": {"data": [{"sentences": [
            "<turn> on <all> <light> [<everywhere>]", "<turn> <all> <light> on [<everywhere>]",
            "<turn> on [<the>] <light> <everywhere>", "<turn> [<the>] <light> on <everywhere>"],
            "slots": {"domain": "light"}, "metadata": {"slot_combination": "domain_all"}}]},
        "HassTimerStatus": {"data": [{"sentences": [
            "[<what_is>] [the] status of [the|my] timer[s]", "(what|which) timers (are|do i have) [running|set]",
            "how (long|much time) (is|have i got) left"], "metadata": {"slot_combination": "default"}}]},
        "HassGetCurrentDate": {"data": [{"sentences": [
            "what day is (it|today) [today]", "(<what_is>) today", "what's today's date", "what date is it [today]",
        ]}]},
        "HassGetCurrentTime": {"data": [{"sentences": ["[<what_is>] the time [(now|please)]", "what's the time now"]}]},
        "HassSetVolumeRelative": {"data": [{"sentences": ["(louder|quieter|softer)", "speak (up|louder)"],
                                            "requires_context": {"area": {"slot": True}},
                                            "metadata": {"slot_combination": "default"}}]},
    },
}
