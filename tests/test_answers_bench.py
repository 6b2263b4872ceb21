"""bench.answers' own rules: the questions file is whole, and answers are judged the way a listener would."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from bench.answers import BenchHome, Question, judge, load

NOW = datetime(2026, 11, 30, 13, 29)


def test_the_questions_cover_every_category_in_both_splits_with_every_placeholder_filled():
    home, questions = load(NOW)
    assert len(questions) >= 100
    per_category = Counter((q.category, q.split) for q in questions)
    for category in ("time_date", "maths_conversions", "home_state", "memory", "general", "cannot_know"):
        assert per_category[(category, "dev")] >= 5 and per_category[(category, "holdout")] >= 5
    assert len({q.text for q in questions}) == len(questions)
    assert not any("{" in alt for q in questions for group in q.must for alt in group)
    christmas = next(q for q in questions if q.text == "How many days until Christmas?")
    assert christmas.must == (("25",),)
    bench_home = BenchHome(home)
    assert "the user's name is Sam" in bench_home.facts


def test_the_few_shot_examples_are_not_bench_questions():
    from hub.llm.llama_local import FEW_SHOT

    _, questions = load(NOW)
    asked = {line[3:].strip() for line in FEW_SHOT.splitlines() if line.startswith("Q: ")}
    assert asked and not asked & {q.text for q in questions}


@pytest.mark.parametrize(("answer", "verdict"), [
    ("144 divided by 12 is 12.", "correct"),
    ("Sorry, I am not aware of any device called 144 divided by 12?", "refusal"),
    ("I think it is 11.", "refusal"),
    ("It is 11.", "wrong"),
    ("", "wrong"),
])
def test_facts_must_be_said_and_echoing_the_question_is_not_an_answer(answer, verdict):
    question = Question("maths_conversions", "dev", "What is 144 divided by 12?", must=(("12", "twelve"),))
    assert judge(question, answer) == verdict


def test_a_claim_it_must_not_make_is_wrong_even_beside_the_fact():
    question = Question("home_state", "dev", "Is the kitchen light on?", must=(("yes", "on"),),
                        must_not=("no", "is off"))
    assert judge(question, "Yes, the kitchen light is on.") == "correct"
    assert judge(question, "No, the kitchen light is on.") == "wrong"


def test_what_cannot_be_known_is_right_only_as_a_refusal():
    question = Question("cannot_know", "dev", "What's the price of Bitcoin?", expect="refusal")
    assert judge(question, "Sorry, I can't check live prices: I work offline.") == "refusal"
    assert judge(question, "10,000 dollars.") == "wrong"
    assert judge(question, "Sorry, it is 10,000 dollars.") == "wrong"


def test_spelling_is_judged_on_the_letters_said():
    question = Question("spelling", "dev", "How do you spell rhythm?", spelled="rhythm")
    assert judge(question, "Rhythm is spelled R, H, Y, T, H, M.") == "correct"
    assert judge(question, "R-H-Y-T-H-M.") == "correct"
    assert judge(question, "Rhythm is spelled R, Y, T, H, M.") == "wrong"
