"""The wire contract shared by hub and satellite.

Everything that crosses a process boundary is defined here and nowhere else:
MQTT topic names (`topics`), MQTT payload models (`payloads`, `commands`),
audio formats (`audio`), the Wyoming events we use and our few extensions
(`wyoming_events`), bounded Wyoming framing (`framing`), Home Assistant
discovery documents (`discovery`), and when a spoken command is over (`end_of_speech`:
the satellite ends its stream by the same rule the hub applies to a stock satellite's).
"""

PROTOCOL_VERSION = "v1"
"""Topic tree version segment: a v2 tree can run beside v1 during an upgrade."""
