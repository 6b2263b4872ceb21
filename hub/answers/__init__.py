"""Answers that need no language model, and the rules that make any answer fit to be spoken.

:class:`QuickAnswers` is the fast path after the intent matcher: calendar arithmetic, maths,
unit conversions, spelling, the weather from Home Assistant, and an honest "I can't" for what an
offline home cannot know (news, live scores, prices). Each answer is a pure function of the
transcript and the clock (and the home's states), unit-tested on its own.
:func:`~hub.answers.spoken.speakable` shapes every sentence a model writes before piper reads it.
"""

from hub.answers.quick import QuickAnswer, QuickAnswers, quick_answer
from hub.answers.spoken import speakable

__all__ = ["QuickAnswer", "QuickAnswers", "quick_answer", "speakable"]
