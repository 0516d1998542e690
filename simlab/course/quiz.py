"""NAME
    quiz - short multiple-choice quizzes with feedback on every answer

SUMMARY
    q = Quiz([Question("What does 354 mean?", ["...", "..."], answer=1,
                       feedback=["why 0 is wrong", "why 1 is right"])])
    q.answer(0, 1) -> Feedback(correct=True, text=...)
    q               # in a notebook: radio buttons and a Check button per question
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Question:
    text: str
    options: list[str]
    answer: int
    feedback: list[str]

    def __post_init__(self) -> None:
        if len(self.feedback) != len(self.options) or not 0 <= self.answer < len(self.options):
            raise ValueError(f"question {self.text!r}: one feedback per option and a valid answer index")


@dataclass(frozen=True)
class Feedback:
    correct: bool
    text: str


class Quiz:
    """A list of questions; ``answer(i, choice)`` gives feedback, the view shows it."""

    def __init__(self, questions: list[Question], title: str = "Quiz") -> None:
        self.questions = questions
        self.title = title

    def answer(self, index: int, choice: int | None) -> Feedback:
        q = self.questions[index]
        if choice is None or not 0 <= choice < len(q.options):
            return Feedback(False, "Pick one of the answers first.")
        prefix = "Right. " if choice == q.answer else "Not quite. "
        return Feedback(choice == q.answer, prefix + q.feedback[choice])

    def widget(self) -> Any:
        import ipywidgets as w
        rows: list[Any] = [w.HTML(f"<h4>{self.title}</h4>")]
        for i, q in enumerate(self.questions):
            radio = w.RadioButtons(options=[(o, k) for k, o in enumerate(q.options)], value=None,
                                   layout=w.Layout(width="auto"))
            out = w.HTML()
            btn = w.Button(description="Check")

            def on_click(_: Any, i: int = i, radio: Any = radio, out: Any = out) -> None:
                fb = self.answer(i, radio.value)
                colour = "#2ca02c" if fb.correct else "#d62728"
                out.value = f"<span style='color:{colour}'>{fb.text}</span>"

            btn.on_click(on_click)
            rows += [w.HTML(f"<b>{i + 1}. {q.text}</b>"), radio, btn, out]
        return w.VBox(rows)

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget())
