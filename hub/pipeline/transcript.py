"""What the person meant to say: a transcript cleaned before intent matching and before the LLM.

After a wake the satellite streams from a little before the wake model fired, so a transcript
may start with what is left of the wake phrase ("Jarvis, turn on ...", "hey jarvis turn on",
or a mis-hearing: "Jervis", "service", "a Jarvis"). People also start with fillers ("um",
"okay so") and wrap commands in politeness ("could you ... please", "... thanks").

:func:`clean` removes those and gives two texts: ``text`` (leftover wake phrase and leading
fillers gone; what the language model gets: "can you swim" must stay a question) and
``command`` (politeness also gone; what intent matching gets). :func:`doubt` says whether the
hub should ask the person to repeat instead of answering (a fragment, or a transcript the
decoder itself was unsure of). Pure text functions: no model, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hub.pipeline.conversation_settings import default

FILLERS = frozenset({"um", "umm", "uh", "uhm", "uhh", "er", "erm", "ah", "hmm", "mm", "oh", "okay", "ok", "so",
                     "well", "hey", "hi", "hello", "alright"})
"""Words that start an utterance without meaning anything."""

NOT_A_REQUEST = FILLERS | frozenset({
    "a", "an", "the", "and", "or", "but", "to", "of", "for", "with", "in", "on", "at", "my", "your", "our", "is",
    "are", "was", "that", "which", "because", "if", "then", "from", "by", "about", "please", "you", "i", "it",
})
"""An utterance made only of these words is a fragment: nobody can act on "the" or "um and"."""

GREETINGS = frozenset({"hi", "hello", "hey", "hiya", "howdy"})
_GREETING_TAIL = GREETINGS | frozenset({"there", "everyone", "all", "friend", "buddy"})


def is_greeting(words: list[str]) -> bool:
    """ "Hello", "hi there": said to the assistant on purpose, to be answered, not a filler to strip."""
    # A lone "hey" is more likely what is left of "hey Jarvis" than a greeting.
    return (bool(words) and words[0] in GREETINGS and all(word in _GREETING_TAIL for word in words)
            and words != ["hey"])


CUT_OFF_END = frozenset({"the", "a", "an", "my", "your", "our", "their", "and", "or", "but"})
"""A request never ends on these: "turn on the" was cut off (while "turn the lights on" is whole)."""

_LEADING_POLITE = re.compile(
    r"^(?:(?:please|kindly)\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?|"
    r"i(?:'d| would) like you to\s+|i want you to\s+)+", re.I)
_TRAILING_POLITE = re.compile(
    r"(?:[\s,]+(?:please|thanks(?: a lot)?|thank you(?: very much)?|for me|now))+[\s.!?]*$", re.I)
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = " \t\n,.;:!?-\"'"
WAKE_SIMILARITY = 0.6
"""How alike (0-1, on a rough sound spelling) the start of a transcript and the wake phrase must be to
be taken for its leftover: "Jervis" 0.83 and "service" 0.83 pass, "turn" and "start" (0.0-0.33) do not."""


@dataclass(frozen=True)
class Cleaned:
    original: str
    text: str
    """Leftover wake phrase and leading fillers removed (for the language model)."""
    command: str
    """Also without politeness and trailing thanks (for intent matching)."""
    wake_removed: str = ""
    """The words taken for the wake phrase's leftover ("" if none)."""


@dataclass(frozen=True)
class Confidence:
    avg_logprob: float
    """Mean log-probability per token of the decoded text (0 is certain; whisper's own bar is -1)."""
    no_speech_prob: float
    """Whisper's probability that the audio holds no speech at all."""


@dataclass(frozen=True)
class DoubtSettings:
    """When the hub does not act on a transcript; defaults from ``[conversation]`` (unsure_logprob, no_speech_prob)."""

    min_avg_logprob: float = default("unsure_logprob")
    """Below this mean token log-probability the transcript is a guess: ask again. Measured: quiet speech
    -0.67 at the 5th percentile, speech in pink noise -1.02, and every noisy clip under -1.0 was misheard."""
    max_no_speech_prob: float = default("no_speech_prob")
    """Above this (with a log-probability under ``no_speech_logprob``) nobody spoke: say nothing. Measured
    (bench.stt_commands): speech 0.10 at the 95th percentile, fragments 0.46, noise alone 0.54 at the 5th."""
    no_speech_logprob: float = -0.5
    """A confident transcript is kept even when whisper also thinks there may be no speech."""


class Doubt(StrEnum):
    """Why the hub will not act on a transcript (stable codes, used in events and learning)."""

    NO_SPEECH = "no_speech"
    """The decoder heard no speech (a false wake, a noise): the hub stays quiet."""
    FRAGMENT = "fragment"
    """Nothing, or nothing actionable, is left after cleaning (only the wake word, "um", "the"), or it was cut
    off mid-phrase ("turn on the")."""
    LOW_CONFIDENCE = "low_confidence"
    """The decoder's own confidence is too low to act on."""


def wake_phrase(wake_word: str) -> str:
    """``hey_jarvis`` / ``hey_jarvis_v0.1`` / ``/models/ok_nabu.tflite`` -> ``hey jarvis`` / ``ok nabu``."""
    name = re.split(r"[\\/]", wake_word.strip())[-1]
    name = re.sub(r"\.tflite$|\.onnx$", "", name, flags=re.I)
    name = re.sub(r"[_\s-]+v\d+(?:\.\d+)*$", "", name, flags=re.I)
    return " ".join(word for word in re.split(r"[_\s-]+", name.lower()) if word)


def sound(word: str) -> str:
    """A rough sound spelling, so mis-hearings spelled differently compare as alike."""
    w = re.sub(r"[^a-z]", "", word.lower())
    for pattern, replacement in ((r"ph", "f"), (r"ck|q", "k"), (r"c(?=[eiy])", "s"), (r"c", "k"), (r"x", "ks"),
                                 (r"z", "s"), (r"dg", "j"), (r"wh", "w"), (r"(?<=.)e$", ""),
                                 (r"[aeiouy]+", "a"), (r"(.)\1+", r"\1")):
        w = re.sub(pattern, replacement, w)
    return w


def similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length."""
    if not a or not b:
        return 0.0
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return 1.0 - row[-1] / max(len(a), len(b))


def _bare(token: str) -> str:
    return token.strip(_EDGE_PUNCT).lower()


def _skip_fillers(tokens: list[re.Match[str]], start: int) -> int:
    while start < len(tokens) and _bare(tokens[start].group()) in FILLERS:
        start += 1
    return start


def _wake_leftover_end(tokens: list[re.Match[str]], start: int, phrase: str) -> int:
    """Index of the first token after a (fuzzy) leftover of ``phrase`` at ``start``; ``start`` if none."""
    words = phrase.split()
    targets = [sound("".join(words[i:])) for i in range(len(words))]  # "heyjarvis", "jarvis"
    best, end = WAKE_SIMILARITY, start
    for n in range(1, len(words) + 2):  # one word more than the phrase: "a jarvis", "hey, jar vis"
        if start + n > len(tokens):
            break
        heard = sound("".join(_bare(t.group()) for t in tokens[start:start + n]))
        score = max(similarity(heard, target) for target in targets) if len(heard) >= 3 else 0.0
        if score > best or (score == best and end == start):  # the closest match wins, shortest on a tie
            best, end = score, start + n
    return end


def clean(transcript: str, wake_word: str | None = None) -> Cleaned:
    """Remove a leftover wake phrase (only when the turn was woken by ``wake_word``), fillers and politeness."""
    tokens = list(_TOKEN.finditer(transcript))
    start = _skip_fillers(tokens, 0)
    removed = ""
    phrase = wake_phrase(wake_word) if wake_word else ""
    if phrase:
        end = _wake_leftover_end(tokens, start, phrase)
        if end > start:
            removed = " ".join(_bare(t.group()) for t in tokens[start:end])
            start = _skip_fillers(tokens, end)
    after_wake = end if removed else 0
    if is_greeting([_bare(t.group()) for t in tokens[after_wake:]]):
        start = after_wake  # "hello" alone is the request, not a filler in front of one
    text = transcript[tokens[start].start():] if start < len(tokens) else ""
    text = text.strip(_EDGE_PUNCT.replace("?", "").replace("'", "")).strip()
    command = _TRAILING_POLITE.sub("", _LEADING_POLITE.sub("", text)).strip(_EDGE_PUNCT).strip()
    return Cleaned(original=transcript, text=text, command=command, wake_removed=removed)


def doubt(cleaned: Cleaned, confidence: Confidence | None, settings: DoubtSettings) -> Doubt | None:
    """None if the hub may act on ``cleaned``, else a :class:`Doubt` code."""
    if confidence is not None and (confidence.no_speech_prob > settings.max_no_speech_prob
                                   and confidence.avg_logprob < settings.no_speech_logprob):
        return Doubt.NO_SPEECH
    words = [word for word in (_bare(t) for t in cleaned.text.split()) if word]
    if is_greeting(words):
        return None
    if not any(word not in NOT_A_REQUEST for word in words) or words[-1] in CUT_OFF_END:
        return Doubt.FRAGMENT
    if confidence is not None and confidence.avg_logprob < settings.min_avg_logprob:
        return Doubt.LOW_CONFIDENCE
    return None


ASK_AGAIN = ("Sorry, I didn't catch that.", "Sorry, could you say that again?", "Sorry, I missed that.")
"""What the hub says when it asks the person to repeat (short: they are about to speak again)."""


def ask_again(turn_id: str) -> str:
    """One of :data:`ASK_AGAIN`, varied by turn but the same on a replay of the turn."""
    return ASK_AGAIN[sum(turn_id.encode()) % len(ASK_AGAIN)]
