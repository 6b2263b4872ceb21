"""Language model backends: llama.cpp in process, or any OpenAI-compatible HTTP endpoint."""

from hub.llm.base import LanguageModel, LlmError, LlmRequest

__all__ = ["LanguageModel", "LlmError", "LlmRequest"]
