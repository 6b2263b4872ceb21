"""Model services on other machines: Wyoming STT/TTS servers and OpenAI-compatible LLM endpoints, as pools."""
