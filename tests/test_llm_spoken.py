"""Between any model and piper: markdown and symbols made speakable, the style's length kept, a failure heard.

The token streams are plain async generators standing in for a model's output (what the model writes is
the input here); the sentence chunker is the hub's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.llm.base import STYLE_SENTENCES, LlmError, LlmUnreachable
from hub.llm.spoken_answer import SpokenAnswer
from hub.pipeline.chunker import SentenceChunker


class Source:
    """Yields the given pieces, then raises ``error`` if any; remembers whether it was closed early."""

    def __init__(self, pieces: list[str], error: LlmError | None = None) -> None:
        self.pieces, self.error, self.yielded, self.closed = pieces, error, 0, False

    async def stream(self) -> AsyncIterator[str]:
        try:
            for piece in self.pieces:
                self.yielded += 1
                yield piece
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


async def spoken(source: Source, max_sentences: int = 0) -> tuple[list[str], SpokenAnswer]:
    answer = SpokenAnswer(source.stream(), max_sentences=max_sentences)

    async def sentences() -> AsyncIterator[str]:
        chunker = SentenceChunker(first_clause_words=4)
        async for piece in answer.tokens():
            for sentence in chunker.feed(piece):
                yield sentence
        for sentence in chunker.flush():
            yield sentence

    return [s async for s in answer.sentences(sentences())], answer


async def test_markdown_times_and_units_are_spoken_in_words():
    said, answer = await spoken(Source(["**Sure!** ", "It's ", "5 °C", " now, at ", "12:29.\n", "- Wear ", "a coat."]))
    # "**Sure!**" ends no sentence for the chunker (the asterisks follow the "!"): the first clause is cut at "now,".
    assert said == ["Sure! It's 5 degrees Celsius now,", "at 12 29.", "Wear a coat."]
    assert answer.error is None


async def test_a_brief_answer_is_one_sentence_and_the_model_stops_there():
    words = [f"Sentence {n} is here. " for n in range(20)]
    source = Source(words)
    said, _ = await spoken(source, max_sentences=STYLE_SENTENCES["brief"])
    assert said == ["Sentence 0 is here."]
    assert source.closed and source.yielded < 5  # generation was stopped, not read to the end


async def test_a_first_clause_does_not_count_as_a_sentence():
    source = Source(["Well, the answer is long, ", "and it goes on. ", "Then more. ", "And more. "])
    said, _ = await spoken(source, max_sentences=2)
    assert said == ["Well, the answer is long,", "and it goes on.", "Then more."]


async def test_an_unreachable_model_is_heard_and_kept_for_the_turn():
    said, answer = await spoken(Source([], LlmUnreachable("connection refused")), max_sentences=1)
    assert said == ["I can't reach the language model right now."]
    assert isinstance(answer.error, LlmUnreachable) and answer.error.code == "llm_unreachable"


async def test_a_model_failing_mid_answer_keeps_what_was_said_then_apologises():
    said, answer = await spoken(Source(["Owls hunt at night. ", "They"], LlmError("stream broke")), max_sentences=3)
    assert said == ["Owls hunt at night.", "They", LlmError.spoken]
    assert answer.error is not None


async def test_a_failure_after_the_styles_last_sentence_is_not_an_error():
    said, answer = await spoken(Source(["Owls hunt at night. ", "They"], LlmError("stream broke")), max_sentences=1)
    assert said == ["Owls hunt at night."]
    assert answer.error is None
