"""Answer quality on household questions: what each way of answering says, scored against facts.

    .venv/bin/python -m bench.answers [--systems fast,fewshot,server,ha] [--max-tokens 48] [--no-write]

The questions (bench/answers_questions.toml, 120+ in categories) are asked of:

- ``fast``: the hub's fast path alone (the intent matcher's time/date answers and hub/answers), where it applies;
- ``fewshot``: the shipped gemma 3 270M base model in process, through the hub's few-shot prompt;
- ``server``: the same GGUF behind llama-cpp-python's OpenAI-compatible server (chat format alpaca),
  through the hub's OpenAI client and chat prompt;
- ``hub``: what the hub says as shipped (the fast path where it applies, else the few-shot model),
  computed from the two runs above;
- ``ha``: Home Assistant's own default conversation agent (``POST /api/conversation/process``) on
  the test home of testbed/ha_peer.py, its devices put in the states the questions assume.

Every model answer goes through the same path as a real turn (sentence chunker, voice shaping, the
"normal" style's sentence budget), with the same grounding (clock, room, remembered facts, the devices
the question names). An answer is *correct* when it contains one alternative of every ``must`` group
and nothing from ``must_not``; an *honest refusal* when it says it can't or doesn't know (for the
cannot-know questions that is the correct answer, anything else is invented); otherwise *wrong*.
"dev" questions may be looked at while working on prompts and rules; "holdout" ones never are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.results import load_note, write_result
from hub.answers import QuickAnswers, speakable
from hub.answers.dates import MONTHS, WEEKDAYS, easter
from hub.answers.home_context import HomeContext
from hub.home.model import Entity, EntityState, HomeSource
from hub.llm.base import LanguageModel, LlmRequest
from hub.llm.spoken_answer import SpokenAnswer
from hub.pipeline.chunker import SentenceChunker
from hub.pipeline.turn_services import DEFAULT_SYSTEM_PROMPT
from hub.storage.memory import extract_fact

QUESTIONS = Path(__file__).with_name("answers_questions.toml")
SYSTEMS = ("fast", "fewshot", "server", "ha")
REFUSAL = re.compile(r"\b(?:can't|cannot|can not|couldn't|could not|don't know|do not know|unable|not aware of|"
                     r"no internet|offline|don't have|do not have|no access|not able)\b", re.I)
"""Saying it can't: such an answer is a refusal even when it echoes the question's words ("not aware of
any device called 144 divided by 12")."""
HEDGE = re.compile(r"\b(?:sorry|not sure|i think|maybe)\b", re.I)
"""Hedging: a refusal only if nothing correct follows ("I'm not sure, but it's on March 3rd" is correct)."""


@dataclass(frozen=True)
class Question:
    category: str
    split: str
    text: str
    must: tuple[tuple[str, ...], ...] = ()
    must_not: tuple[str, ...] = ()
    expect: str = "fact"
    spelled: str = ""
    history: tuple[tuple[str, str], ...] = ()


@dataclass
class Answer:
    question: Question
    text: str
    verdict: str
    first_ms: float | None
    words: int = field(init=False)

    def __post_init__(self) -> None:
        self.words = len(self.text.split())


def placeholders(now: datetime) -> dict[str, str]:
    today = now.date()

    def upcoming(month: int, day: int) -> date:
        this_year = date(today.year, month, day)
        return this_year if this_year >= today else date(today.year + 1, month, day)

    tomorrow = today + timedelta(days=1)
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    next_easter = easter(today.year + 1)
    return {
        "hour12": str(now.hour % 12 or 12), "weekday": WEEKDAYS[today.weekday()], "day": str(today.day),
        "month": MONTHS[today.month - 1], "year": str(today.year),
        "tomorrow_weekday": WEEKDAYS[tomorrow.weekday()], "tomorrow_day": str(tomorrow.day),
        "tomorrow_month": MONTHS[tomorrow.month - 1],
        "xmas_weekday": WEEKDAYS[upcoming(12, 25).weekday()], "days_to_xmas": str((upcoming(12, 25) - today).days),
        "july4_weekday": WEEKDAYS[upcoming(7, 4).weekday()],
        "newyear_weekday": WEEKDAYS[upcoming(1, 1).weekday()] if today != date(today.year, 1, 1)
        else WEEKDAYS[today.weekday()],
        "days_to_newyear": str((upcoming(1, 1) - today).days),
        "days_to_halloween": str((upcoming(10, 31) - today).days),
        "in10_weekday": WEEKDAYS[(today + timedelta(days=10)).weekday()], "nextfri_day": str(friday.day),
        "easter_next_day": str(next_easter.day), "easter_next_month": MONTHS[next_easter.month - 1],
    }


def load(now: datetime, path: Path = QUESTIONS) -> tuple[dict[str, Any], list[Question]]:
    data = tomllib.loads(path.read_text())
    values = placeholders(now)

    def fill(text: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], text)

    questions = [Question(
        category=q["category"], split=q["split"], text=q["text"],
        must=tuple(tuple(fill(a).lower() for a in group) for group in q.get("must", [])),
        must_not=tuple(fill(a).lower() for a in q.get("must_not", [])), expect=q.get("expect", "fact"),
        spelled=q.get("spelled", ""), history=tuple(tuple(h) for h in q.get("history", [])),  # type: ignore[misc]
    ) for q in data["question"]]
    return data["home"], questions


def _has(answer: str, phrase: str) -> bool:
    if re.fullmatch(r"[\d.,]+", phrase):
        return re.search(rf"(?<![\d.]){re.escape(phrase)}(?![\d])", answer) is not None
    return re.search(rf"\b{re.escape(phrase)}\b", answer) is not None


def judge(question: Question, text: str) -> str:
    """correct, wrong or refusal."""
    answer = speakable(text).lower().replace("’", "'")
    if not answer.strip():
        return "wrong"
    if REFUSAL.search(answer):
        return "refusal"
    if question.expect == "refusal":
        return "refusal" if HEDGE.search(answer) and not re.search(r"\d", answer) else "wrong"
    if any(_has(answer, phrase) for phrase in question.must_not):
        return "wrong"
    if question.spelled:
        letters = "".join(t for t in re.split(r"[^a-z]+", answer) if len(t) == 1)
        if question.spelled in letters:
            return "correct"
    elif all(any(_has(answer, alternative) for alternative in group) for group in question.must):
        return "correct"
    return "refusal" if HEDGE.search(answer) else "wrong"


class BenchHome:
    """The questions' home: entities and states for the prompt, and the remembered facts."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.room = spec["room"]
        self.entities = [Entity(e["id"], e["name"], HomeSource.HOME_ASSISTANT, aliases=tuple(e.get("aliases", [])),
                                area=e.get("area")) for e in spec["entity"]]
        self.states = {e["id"]: EntityState(e["id"], e["state"], e.get("attributes", {})) for e in spec["entity"]}
        self.context = HomeContext(lambda: self.entities, lambda entity: self.states.get(entity.entity_id))
        facts = [extract_fact(s) for s in spec["statements"]]
        self.facts = tuple(f[2] for f in facts if f is not None)
        if len(self.facts) != len(spec["statements"]):
            raise ValueError("a statement in the questions file is not one the memory understands")


async def ask_model(llm: LanguageModel, question: Question, home: BenchHome, now: datetime,
                    max_tokens: int) -> Answer:
    request = LlmRequest(user_text=question.text, room=home.room, now=now, system_prompt=DEFAULT_SYSTEM_PROMPT,
                         history=question.history, style="normal", facts=home.facts,
                         device_states=home.context.device_states(question.text, home.room), max_tokens=max_tokens)
    started = time.perf_counter()
    first: float | None = None
    answer = SpokenAnswer(llm.stream(request), max_sentences=request.sentence_budget)

    async def sentences() -> Any:  # as Turn._sentences does it
        nonlocal first
        chunker = SentenceChunker(first_clause_words=4)
        tokens = answer.tokens()
        try:
            async for piece in tokens:
                if first is None:
                    first = (time.perf_counter() - started) * 1000
                for sentence in chunker.feed(piece):
                    yield sentence
            for sentence in chunker.flush():
                yield sentence
        finally:
            await tokens.aclose()  # type: ignore[attr-defined]

    spoken = [s async for s in answer.sentences(sentences())]
    text = " ".join(spoken)
    return Answer(question, text, "error" if answer.error else judge(question, text), first)


def ask_fast(question: Question, home: BenchHome, now: datetime, answers: QuickAnswers) -> Answer | None:
    from hub.home.intents import IntentMatcher
    from hub.home.skills import say_time

    started = time.perf_counter()
    intent = IntentMatcher().match(question.text, home.room)
    text = None
    if intent is not None and intent.name == "time":
        text = say_time(now)
    elif intent is not None and intent.name == "date":
        text = f"Today is {now.strftime('%A')}, {now.strftime('%B')} {now.day}."
    elif intent is None:
        quick = answers(question.text, home.room, now)
        text = quick.text if quick else None
    if text is None:
        return None
    return Answer(question, text, judge(question, text), (time.perf_counter() - started) * 1000)


HA_SETUP = (
    ("input_number", "set_value", {"entity_id": "input_number.kitchen_ceiling_level", "value": 128}),
    ("input_number", "set_value", {"entity_id": "input_number.bedroom_ceiling_level", "value": 0}),
    ("input_boolean", "turn_off", {"entity_id": "input_boolean.kitchen_counter_power"}),
    ("input_boolean", "turn_off", {"entity_id": "input_boolean.living_room_lamp_power"}),
    ("input_boolean", "turn_on", {"entity_id": "input_boolean.coffee_maker_power"}),
    ("input_number", "set_value", {"entity_id": "input_number.blind_position", "value": 0}),
    ("input_number", "set_value", {"entity_id": "input_number.living_room_temperature", "value": 20.5}),
    ("climate", "set_temperature", {"entity_id": "climate.living_room_thermostat", "temperature": 21}),
)
"""Home Assistant's test home put into the states bench/answers_questions.toml describes."""


def ask_home_assistant(questions: list[Question], name: str = "current") -> tuple[list[Answer], str]:
    """Every question through HA's default agent; ([], reason) when no HA peer is installed.

    ``name`` is a key of testbed/ha_peer.py's PEERS: "current" (the newest release that installs here, what
    users run today: the fair baseline) or "2024.3" (which has no time or date sentences at all).
    """
    from testbed.ha_peer import PEERS, peer_venv, start_home_assistant

    if not (peer_venv(name) / "bin" / "hass").exists():
        return [], f"Home Assistant peer .venv-peers/{PEERS[name]} is not installed"
    results = []
    with start_home_assistant(name) as peer:
        for domain, service, data in HA_SETUP:
            peer.call_service(domain, service, **data)
        for question in questions:
            started = time.perf_counter()
            reply = peer.rest("POST", "/api/conversation/process", {"text": question.text, "language": "en"})
            elapsed = (time.perf_counter() - started) * 1000
            text = str(((reply.get("response") or {}).get("speech") or {}).get("plain", {}).get("speech", ""))
            results.append(Answer(question, text, judge(question, text), elapsed))
        version = peer.version
    return results, f"Home Assistant {version}"


def _cell(answers: list[Answer]) -> str:
    if not answers:
        return "–"
    counts = Counter(a.verdict for a in answers)
    return f"{counts['correct']} / {counts['wrong'] + counts['error']} / {counts['refusal']}"


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "–"


def report(runs: dict[str, list[Answer]], questions: list[Question], notes: list[str]) -> str:
    categories = list(dict.fromkeys(q.category for q in questions))
    systems = [s for s in ("fast", "fewshot", "server", "hub", "ha") if s in runs]
    header = "| category | questions | " + " | ".join(systems) + " |"
    lines = ["Each cell: correct / wrong / honest refusal. For cannot-know questions the refusal is the right "
             "answer and any other answer was invented. `fast` counts only the questions the fast path "
             "answers itself (it passes the rest on).", "", header,
             "|" + "---|" * (len(systems) + 2)]
    for category in categories + ["all"]:
        chosen = [q for q in questions if category in ("all", q.category)]
        cells = [_cell([a for a in runs[s] if a.question in chosen]) for s in systems]
        name = f"**{category}**" if category == "all" else category
        lines.append(f"| {name} | {len(chosen)} | " + " | ".join(cells) + " |")
    lines += ["", "| split | questions | " + " | ".join(systems) + " |", "|" + "---|" * (len(systems) + 2)]
    for split in ("dev", "holdout"):
        chosen = [q for q in questions if q.split == split]
        lines.append(f"| {split} | {len(chosen)} | " + " | ".join(
            _cell([a for a in runs[s] if a.question in chosen]) for s in systems) + " |")
    lines += ["", "| system | answered | median words per answer | median first token, ms | p90 first token, ms |",
              "|---|---|---|---|---|"]
    for system in systems:
        answers = runs[system]
        firsts = sorted(a.first_ms for a in answers if a.first_ms is not None)
        p90 = f"{firsts[int(0.9 * (len(firsts) - 1))]:.0f}" if firsts else "–"
        lines.append(f"| {system} | {len(answers)} | {_median([float(a.words) for a in answers])} | "
                     f"{_median(firsts)} | {p90} |")
    lines += ["", *notes]
    return "\n".join(lines)


async def run(systems: list[str], max_tokens: int, limit: int | None,
              split: str | None = None, ha_peer: str = "current") -> tuple[str, dict[str, list[Answer]]]:
    from common.models import gemma_gguf_path

    now = datetime.now()
    spec, questions = load(now)
    questions = [q for q in questions if split in (None, q.split)]
    questions = questions[:limit] if limit else questions
    home = BenchHome(spec)
    runs: dict[str, list[Answer]] = {}
    notes = [f"{len(questions)} questions ({sum(q.split == 'holdout' for q in questions)} held out), asked at "
             f"{now:%Y-%m-%d %H:%M}; answers capped at {max_tokens} tokens and the normal style's 2 sentences."]
    quick = QuickAnswers(home.context)
    if "fast" in systems:
        runs["fast"] = [a for a in (ask_fast(q, home, now, quick) for q in questions) if a is not None]
    gguf = gemma_gguf_path()
    if "fewshot" in systems:
        from hub.llm.llama_local import LlamaLocal

        llm = await asyncio.to_thread(LlamaLocal, gguf)
        runs["fewshot"] = [await ask_model(llm, q, home, now, max_tokens) for q in questions]
        del llm
    if "server" in systems:
        from hub.llm.openai_client import OpenAICompatible
        from testbed.llm_server import llama_server

        with llama_server(gguf, chat_format="alpaca") as server:
            client = OpenAICompatible(server.url, "gemma-3-270m", read_timeout_s=60)
            runs["server"] = [await ask_model(client, q, home, now, max_tokens) for q in questions]
        notes.append("`server`: llama-cpp-python 0.3.36's server, `--chat_format alpaca` (the GGUF has no template; alpaca keeps the system message, llama-cpp-python's gemma format drops it).")
    if "fast" in runs and "fewshot" in runs:
        fast = {a.question: a for a in runs["fast"]}
        runs["hub"] = [fast.get(a.question, a) for a in runs["fewshot"]]
    if "ha" in systems:
        answers, note = await asyncio.to_thread(ask_home_assistant, questions, ha_peer)
        if answers:
            runs["ha"] = answers
            notes.append(f"`ha`: {note}'s default conversation agent over REST; first-token column is its whole "
                         "reply (it does not stream).")
        else:
            notes.append(f"`ha`: not run ({note}).")
    return report(runs, questions, notes), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS))
    parser.add_argument("--max-tokens", type=int, default=48, help="answer token cap for the models")
    parser.add_argument("--limit", type=int, default=None, help="ask only the first N questions")
    parser.add_argument("--split", choices=("dev", "holdout"), default=None,
                        help="only one part (work on prompts with dev; a published run asks both)")
    parser.add_argument("--answers-json", type=Path, default=Path("var/bench/answers.json"),
                        help="where every answer is written, for reading them")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--ha", choices=("current", "2024.3"), default="current",
                        help="which Home Assistant answers as the baseline (current: the newest that installs here)")
    args = parser.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown system(s): {', '.join(sorted(unknown))}")
    before = os.getloadavg()
    body, runs = asyncio.run(run(systems, args.max_tokens, args.limit, args.split, args.ha))
    body += "\n\n" + load_note(before, os.getloadavg())
    args.answers_json.parent.mkdir(parents=True, exist_ok=True)
    args.answers_json.write_text(json.dumps({system: [
        {"category": a.question.category, "split": a.question.split, "question": a.question.text, "answer": a.text,
         "verdict": a.verdict, "first_ms": a.first_ms} for a in answers] for system, answers in runs.items()},
        indent=1, ensure_ascii=False))
    print(body)
    if not args.no_write and (args.split or args.limit):
        print("(not written to docs/BENCHMARKS.md: a published run asks every question)")
    elif not args.no_write:
        command = (f"python -m bench.answers --systems {','.join(systems)} --max-tokens {args.max_tokens}"
                   f" --ha {args.ha}")
        write_result("answers", body, command=command)


if __name__ == "__main__":
    main()
