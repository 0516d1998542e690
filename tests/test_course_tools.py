"""Quizzes give feedback on every answer; exercise checks explain, never crash."""

from __future__ import annotations

from pathlib import Path

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


def test_check_result_shows_itself_in_colour() -> None:
    ex = Exercise("t", check=lambda x: [] if x else ["no message was queued"])
    assert "#2ca02c" in ex.run_check(1)._repr_html_() and "Well done" in ex.run_check(1)._repr_html_()
    bad = ex.run_check(0)._repr_html_()
    assert "#d62728" in bad and "Not yet" in bad and "no message was queued" in bad
    assert ex.check(1).ok        # outside a notebook check() shows nothing and still returns the result


# what each cell shows when run in a real kernel: the chapters end check cells with ";"
CELLS = [
    ("ex.check(True);", ["Well done"]),
    ("ex.check(True)", ["Well done"]),                            # no ";": still once
    ("r = ex.check(False)", ["Not yet"]),
    ("r", ["Not yet"]),                                           # shown again when asked for, later
    ("ex.run_check(False)", ["Not yet"]),                         # silent itself; the cell's value shows
    ("ex.run_check(False);", []),
    ("def solution():\n    return ex.check(True)\nsolution()", ["Well done"]),
]


def test_a_cell_shows_the_check_result_exactly_once(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    setup = "from simlab.course import Exercise\nex = Exercise('t', check=lambda ok: [] if ok else ['no'])"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in [setup] + [c for c, _ in CELLS]])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs == []
    for cell, (code, shown) in zip(nb.cells[1:], CELLS):
        html = [o.get("data", {}).get("text/html", o.get("text", "")) for o in cell.outputs]
        assert len(html) == len(shown) and all(word in h for h, word in zip(html, shown)), (code, cell.outputs)
        assert all(o.data["text/plain"] in ("Well done: the check passes.", "Not yet:\n  - no") for o in cell.outputs)
