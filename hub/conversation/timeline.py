"""Per-turn timings, all measured from the true end of speech on the hub's one clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.conversation.events import ConversationEvent, EventKind
from protocol.payloads import DeviceActionReport, TurnOutcome, TurnReport, TurnTimings

_MARKS = {
    EventKind.SPEECH_ENDED: "endpointing_ms",
    EventKind.TRANSCRIPT: "transcript_ms",
    EventKind.FIRST_TOKEN: "first_token_ms",
    EventKind.SENTENCE: "first_sentence_ms",
    EventKind.AUDIO_STARTED: "first_audio_ms",
    EventKind.AUDIO_FINISHED: "last_audio_ms",
}


@dataclass
class _Open:
    started_t: float
    zero_t: float | None = None
    marks: dict[str, float] = field(default_factory=dict)
    stt_ms: float | None = None
    heard: dict[str, float | str] = field(default_factory=dict)
    actions: list[DeviceActionReport] = field(default_factory=list)


class TurnTimeline:
    """Listens to the bus; hands a :class:`TurnReport` to ``on_report`` when each turn ends."""

    def __init__(self, on_report: Callable[[TurnReport], None]) -> None:
        self._on_report = on_report
        self._open: dict[str, _Open] = {}
        self.reports: list[TurnReport] = []
        self.total = 0

    def __call__(self, event: ConversationEvent) -> None:
        if event.turn_id is None:
            return
        if event.kind is EventKind.TURN_STARTED:
            self._open[event.turn_id] = _Open(started_t=event.t)
            return
        turn = self._open.get(event.turn_id)
        if turn is None:
            return
        if event.kind is EventKind.SPEECH_ENDED:
            turn.zero_t = float(event.data.get("speech_end_t", event.t))
        if event.kind is EventKind.TRANSCRIPT:
            turn.stt_ms = float(event.data.get("stt_ms", 0.0))
            turn.heard = {key: event.data[key] for key in ("cleaned", "avg_logprob", "no_speech_prob")
                          if event.data.get(key) is not None}
        if event.kind is EventKind.DEVICE_ACTION and len(turn.actions) < 64:
            turn.actions.append(DeviceActionReport(entity=str(event.data["entity"])[:128],
                                                   service=str(event.data["service"])[:128],
                                                   result=event.data["result"], ms=float(event.data["ms"])))
        name = _MARKS.get(event.kind)
        if name is not None and name not in turn.marks:
            zero = turn.zero_t if turn.zero_t is not None else turn.started_t
            turn.marks[name] = round(max(0.0, 1000 * (event.t - zero)), 1)
        if event.kind is EventKind.TURN_ENDED:
            del self._open[event.turn_id]
            report = TurnReport(
                satellite=event.satellite, turn_id=event.turn_id,
                transcript=str(event.data.get("transcript", ""))[:4000],
                response=str(event.data.get("response", ""))[:4000],
                handler=str(event.data.get("handler") or "none"),
                outcome=TurnOutcome(event.data.get("outcome", TurnOutcome.DONE)),
                timings=TurnTimings(**turn.marks),
                error_code=event.data.get("error_code"),
                heard=str(turn.heard["cleaned"])[:4000] if "cleaned" in turn.heard else None,
                stt_logprob=_float(turn.heard.get("avg_logprob")),
                stt_no_speech=_float(turn.heard.get("no_speech_prob")),
                actions=turn.actions,
            )
            self.total += 1
            self.reports.append(report)
            del self.reports[:-100]
            self._on_report(report)


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
