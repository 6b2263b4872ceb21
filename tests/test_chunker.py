"""Streaming LLM text becomes speakable pieces as early as they are complete, and never mid-number."""

from __future__ import annotations

import pytest

from hub.pipeline.chunker import SentenceChunker


def stream(text: str, chunker: SentenceChunker, piece: int = 3) -> list[tuple[int, str]]:
    """Feed ``text`` a few characters at a time (like LLM tokens); (characters fed, piece) for each piece."""
    out = []
    for end in range(piece, len(text) + piece, piece):
        out += [(min(end, len(text)), s) for s in chunker.feed(text[end - piece:end])]
    out += [(len(text), s) for s in chunker.flush()]
    return out


def pieces(text: str, **kwargs: int) -> list[str]:
    return [s for _, s in stream(text, SentenceChunker(**kwargs))]


def test_sentences_come_out_as_soon_as_they_end() -> None:
    text = "It is sunny. Take a hat! Shall I remind you later? "
    emitted = stream(text, SentenceChunker())
    assert [s for _, s in emitted] == ["It is sunny.", "Take a hat!", "Shall I remind you later?"]
    assert emitted[0][0] <= len("It is sunny. ") + 2  # not held back until the end of the answer


@pytest.mark.parametrize("text", [
    "Dr. Smith lives on Elm St. near the park.",
    "It costs 3.5 euros, about 1,000 in total.",
    "J. R. R. Tolkien wrote it.",
    "Meet me at 10:30 today.",
])
def test_abbreviations_initials_and_numbers_do_not_end_a_sentence(text: str) -> None:
    assert pieces(text) == [text]


def test_the_first_clause_is_spoken_alone_once_it_is_long_enough() -> None:
    text = "Well, the lighthouse keeper climbed the stairs, lit the lamp, and waited. Ships passed, safe, all night."
    assert pieces(text, first_clause_words=4) == [
        "Well, the lighthouse keeper climbed the stairs,",  # "Well," alone is too short to stand
        "lit the lamp, and waited.",
        "Ships passed, safe, all night.",  # later sentences stay whole
    ]


def test_without_first_clause_words_sentences_stay_whole() -> None:
    text = "Well, the lighthouse keeper climbed the stairs, lit the lamp, and waited."
    assert pieces(text) == [text]


def test_a_first_sentence_that_ends_before_any_long_clause_is_spoken_whole() -> None:
    assert pieces("Paris, of course. It is lovely, in spring, they say.", first_clause_words=4) == [
        "Paris, of course.", "It is lovely, in spring, they say."]


def test_a_run_on_without_punctuation_is_cut_so_speech_starts() -> None:
    text = "word " * 100
    out = pieces(text, max_chars=60)
    assert all(len(p) <= 60 for p in out)
    assert " ".join(out).split() == text.split()


def test_a_first_sentence_that_arrives_at_once_is_still_split_at_its_first_clause() -> None:
    chunker = SentenceChunker(first_clause_words=4)
    text = "Sunlight scatters off the air, and blue light scatters the most. So the sky looks blue. "
    assert chunker.feed(text) == ["Sunlight scatters off the air,", "and blue light scatters the most.",
                                  "So the sky looks blue."]


@pytest.mark.parametrize("piece", [1, 2, 5, 11, 1000])
def test_no_word_is_lost_or_glued_whatever_the_token_sizes(piece: int) -> None:
    text = ("Well, the keeper, an old man, climbed the stairs; he lit the lamp: bright. Dr. Lee said 3.5 is fine, "
            "really. Ships passed, safe, all night")
    out = [s for _, s in stream(text, SentenceChunker(first_clause_words=4, max_chars=40), piece)]
    assert " ".join(out).split() == text.split()
