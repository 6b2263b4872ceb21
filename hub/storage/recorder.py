"""The session recorder: every event, learning decision and command of a hub run, as JSON lines.

A session file starts with a header naming its format (``hub.storage.event_format``) and a snapshot
of the learning state, so ``python -m hub replay``
can rebuild the learner as it was and feed it the recorded events: the state machine and
the learner must then make the recorded transitions and decisions again. Transcripts, LLM
prompts and answers travel in the events themselves. Turn audio is kept only when asked,
as WAV files next to the session, up to a size cap; old sessions are deleted past a count.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import wave
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from hub.conversation.event_data import TurnEnded, TurnStarted
from hub.conversation.events import ConversationEvent
from hub.storage.event_format import FORMAT, event_to_json
from protocol.audio import MIC_FORMAT
from protocol.payloads import LearningDecision

_LOGGER = logging.getLogger(__name__)

SUFFIX = ".jsonl"


class SessionRecorder:
    def __init__(self, directory: Path, snapshot: Callable[[], dict[str, Any]], *, max_bytes: int = 50 * 2**20,
                 keep_sessions: int = 30, audio: bool = False, max_audio_bytes: int = 100 * 2**20,
                 on_problem: Callable[[str | None], None] = lambda problem: None) -> None:
        self.directory = directory
        self._snapshot = snapshot
        self._max_bytes = max_bytes
        self._keep = keep_sessions
        self._audio = audio
        self._max_audio_bytes = max_audio_bytes
        self._on_problem = on_problem
        self._audio_bytes = 0
        self._open_turns: set[str] = set()
        self._file: IO[str] | None = None
        self.path: Path | None = None
        self.failed = False
        self._open()

    # -- what it records ---------------------------------------------------------------------
    def __call__(self, event: ConversationEvent) -> None:
        started = isinstance(event.data, TurnStarted)
        if self.failed and started and not self._open_turns:
            self._open()  # maybe there is room again: a new session file, with its own snapshot
            if not self.failed:
                self._on_problem(None)
        self._write({"type": "event", **event_to_json(event)})
        if started:
            self._open_turns.add(event.satellite)
        elif isinstance(event.data, TurnEnded):
            self._open_turns.discard(event.satellite)
            if self._file is not None and self._file.tell() > self._max_bytes and not self._open_turns:
                self._open()  # roll over between turns, so every file replays on its own

    def decision(self, decision: LearningDecision) -> None:
        self._write({"type": "decision", **decision.model_dump(mode="json")})

    def command(self, action: str, room: str | None, parameter: str | None) -> None:
        self._write({"type": "command", "action": action, "room": room, "parameter": parameter})

    def turn_audio(self, satellite: str, turn_id: str, pcm: bytes) -> Path | None:
        if not self._audio or self.path is None or not pcm:
            return None
        if self._audio_bytes + len(pcm) > self._max_audio_bytes:
            _LOGGER.info("recorder: audio cap of %d MB reached; turn %s kept without audio",
                         self._max_audio_bytes // 2**20, turn_id)
            return None
        folder = self.path.with_suffix("")
        try:
            folder.mkdir(exist_ok=True)
            target = folder / f"{turn_id}.wav"
            with wave.open(str(target), "wb") as wav:
                wav.setnchannels(MIC_FORMAT.channels)
                wav.setsampwidth(MIC_FORMAT.width)
                wav.setframerate(MIC_FORMAT.rate)
                wav.writeframes(pcm)
        except OSError as err:
            _LOGGER.error("recorder: cannot keep the audio of turn %s: %s", turn_id, err)
            return None
        self._audio_bytes += len(pcm)
        self._write({"type": "audio", "satellite": satellite, "turn_id": turn_id, "file": target.name})
        return target

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- files -------------------------------------------------------------------------------
    def _open(self) -> None:
        self.close()
        session_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / f"{session_id}{SUFFIX}"
            self._file = self.path.open("w", encoding="utf-8")
        except OSError as err:
            self._fail(err)
            return
        self._audio_bytes = 0
        self.failed = False
        self._write({"type": "session", "format": FORMAT, "id": session_id, "started": time.time(),
                     "learning": self._snapshot()})
        self._prune()

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._file.flush()
        except (OSError, ValueError) as err:
            self._fail(err)

    def _fail(self, err: Exception) -> None:
        # A full disk stops the recording, never the conversation.
        self.failed = True
        _LOGGER.error("recorder: stopped recording to %s: %s", self.directory, err)
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
        self._file = None
        self._on_problem(str(err))

    def _prune(self) -> None:
        sessions = sorted(self.directory.glob(f"*{SUFFIX}"))
        for old in sessions[:-self._keep] if self._keep > 0 else []:
            try:
                old.unlink()
                audio = old.with_suffix("")
                if audio.is_dir():
                    for wav in audio.glob("*.wav"):
                        wav.unlink()
                    audio.rmdir()
            except OSError as err:
                _LOGGER.warning("recorder: cannot delete old session %s: %s", old.name, err)


def session_path(data_dir: Path, session: str) -> Path:
    """A session given as a path, a file name or an id (or 'last') inside ``data_dir/sessions``."""
    candidate = Path(session)
    if candidate.is_file():
        return candidate
    folder = data_dir / "sessions"
    if session == "last":
        found = sorted(folder.glob(f"*{SUFFIX}"))
        if found:
            return found[-1]
    for name in (session, f"{session}{SUFFIX}"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"no recorded session {session!r} (looked in {folder})")
