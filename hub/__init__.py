"""The hub: STT, LLM and TTS for every room, one conversation state machine per satellite."""
__version__ = "0.1.0"
