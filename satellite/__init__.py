"""A room satellite: microphone, wake word, VAD, echo cancellation, speaker; a Wyoming server."""

__version__ = "0.1.0"
