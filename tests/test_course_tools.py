"""Quizzes give feedback on every answer; exercise checks explain, never crash."""

from __future__ import annotations

import pytest

from simlab.course import CONCEPTS, Exercise, Question, Quiz, concepts_of


def test_concepts_cover_43_in_four_chapters() -> None:
    assert sorted(CONCEPTS) == list(range(1, 44))
    assert [len(concepts_of(ch)) for ch in (1, 2, 3, 4)] == [14, 5, 10, 14]


def test_quiz_feedback_per_answer() -> None:
    q = Quiz([Question("What does 354 ask for?", ["the message", "a password"], answer=0,
                       feedback=["DATA was accepted: send the message.", "AUTH uses 334, not 354."])])
    assert q.answer(0, 0).correct and "send the message" in q.answer(0, 0).text
    fb = q.answer(0, 1)
    assert not fb.correct and "334" in fb.text
    assert "Pick one" in q.answer(0, None).text
    q.widget()  # the view builds without a browser


def test_question_needs_one_feedback_per_option() -> None:
    with pytest.raises(ValueError):
        Question("?", ["a", "b"], answer=0, feedback=["only one"])


def test_exercise_check_passes_fails_and_survives_errors() -> None:
    ex = Exercise("Earn 250 for alice", check=lambda codes: [] if codes.get("alice") == 250
                  else [f"alice got {codes.get('alice')}, not 250"], hint="Is alice a local user?")
    assert ex.run_check({"alice": 250}).ok
    bad = ex.run_check({"alice": 550})
    assert not bad.ok and bad.problems == ("alice got 550, not 250",)
    broken = ex.run_check(None)
    assert not broken.ok and "could not read your answer" in broken.problems[0]
    assert "Not yet" in broken.message and len(ex.attempts) == 3
    ex.widget()
