"""A language model's answer as the person hears it.

Between the model's token stream and piper, for every kind of model:

- :meth:`SpokenAnswer.tokens` passes the tokens through; if the model fails (its server is down,
  it stopped mid-answer) it ends the text with the error's spoken sentence instead of raising, so
  the person hears why, and keeps the error for :meth:`raise_if_failed` (the turn then ends with
  the error's stable code, which reaches MQTT).
- :meth:`SpokenAnswer.sentences` makes each sentence speakable (no markdown, times and units in
  words) and stops after the style's sentence budget; stopping closes the model's stream, so
  generation ends there too (and a failure after that point is not the person's concern).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from hub.answers.spoken import speakable
from hub.llm.base import LlmError

_LOGGER = logging.getLogger(__name__)


class SpokenAnswer:
    def __init__(self, tokens: AsyncIterator[str], *, max_sentences: int = 0) -> None:
        self._tokens = tokens
        self._max_sentences = max_sentences
        self._closing = False
        self.error: LlmError | None = None

    async def tokens(self) -> AsyncIterator[str]:
        written = False
        try:
            async for piece in self._tokens:
                written = written or bool(piece.strip())
                yield piece
        except LlmError as err:
            self.error = err
            _LOGGER.warning("language model failed: %s", err)
            yield ("\n\n" if written else "") + err.spoken + "\n"  # the chunker ends a line at "\n" + space
        finally:
            await self._close_model()

    async def sentences(self, sentences: AsyncIterator[str]) -> AsyncIterator[str]:
        complete = 0
        try:
            async for sentence in sentences:
                if self.error is not None and sentence.strip() == self.error.spoken:
                    yield sentence  # the apology is said whatever the budget
                    continue
                if self._max_sentences and complete >= self._max_sentences:
                    self.error = None  # a failure past what is said does not concern the person
                    break
                text = speakable(sentence)
                if not text:
                    continue
                yield text
                if text[-1] in ".!?":  # a first clause cut at a comma is not a whole sentence
                    complete += 1
        finally:
            closer = getattr(sentences, "aclose", None)
            if closer is not None:
                await closer()
            await self._close_model()  # also when the consumer left tokens() unclosed: generation stops now

    async def _close_model(self) -> None:
        # Once: a tokens() generator dropped unclosed is closed later by the event loop, possibly while
        # sentences() is still closing the model's stream (a second aclose() would find it running).
        if self._closing:
            return
        self._closing = True
        closer = getattr(self._tokens, "aclose", None)
        if closer is not None:
            await closer()

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error
