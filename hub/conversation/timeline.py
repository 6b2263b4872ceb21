"""Per-turn timings, all measured from the true end of speech on the hub's one clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.conversation.event_data import DeviceAction, SpeechEnded, Transcript, TurnEnded, TurnStarted
from hub.conversation.events import ConversationEvent, EventKind
from protocol.payloads import DeviceActionReport, TurnReport, TurnTimings

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
    heard: Transcript | None = None
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
        data = event.data
        if isinstance(data, TurnStarted):
            self._open[event.turn_id] = _Open(started_t=event.t)
            return
        turn = self._open.get(event.turn_id)
        if turn is None:
            return
        if isinstance(data, SpeechEnded):
            turn.zero_t = data.speech_end_t
        elif isinstance(data, Transcript):
            turn.heard = data
        elif isinstance(data, DeviceAction) and len(turn.actions) < 64:
            turn.actions.append(DeviceActionReport(entity=data.entity[:128], service=data.service[:128],
                                                   result=data.result.value, ms=data.ms))
        name = _MARKS.get(event.kind)
        if name is not None and name not in turn.marks:
            zero = turn.zero_t if turn.zero_t is not None else turn.started_t
            turn.marks[name] = round(max(0.0, 1000 * (event.t - zero)), 1)
        if isinstance(data, TurnEnded):
            del self._open[event.turn_id]
            heard = turn.heard
            report = TurnReport(
                satellite=event.satellite, turn_id=event.turn_id,
                transcript=data.transcript[:4000],
                response=data.response[:4000],
                handler=data.handler or "none",
                outcome=data.outcome,
                timings=TurnTimings(**turn.marks),
                error_code=data.error_code,
                heard=heard.cleaned[:4000] if heard is not None else None,
                stt_logprob=heard.avg_logprob if heard is not None else None,
                stt_no_speech=heard.no_speech_prob if heard is not None else None,
                actions=turn.actions,
            )
            self.total += 1
            self.reports.append(report)
            del self.reports[:-100]
            self._on_report(report)

