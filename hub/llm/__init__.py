"""Language model backends: llama.cpp in process (any GGUF), or any OpenAI-compatible HTTP server."""

from hub.llm.base import LanguageModel, LlmError, LlmRequest, LlmUnreachable

__all__ = ["LanguageModel", "LlmError", "LlmRequest", "LlmUnreachable"]
