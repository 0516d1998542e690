"""NAME
    exercise - exercises with an automatic check, a hint, and no spoilers

SUMMARY
    ex = Exercise("Make example.net a virtual mailbox domain", check=check_fn, hint="Look at ...")
    ex.check(answer);       # -> CheckResult, shown once in a notebook (with or without the ";")
    ex.run_check(answer)    # -> CheckResult, shows nothing (a cell ending in it shows the result)
    ex                      # displays the task with its Hint button

DESCRIPTION
    A check function receives the student's answer (a dialog, a main.cf text,
    a network after the student's cell ran ...) and returns the list of what is
    still wrong, in words that say *what* is wrong without saying *how* to fix
    it; an empty list means success. It reads the outcome from the simulator
    (trace, mailboxes, queue, configuration), never the student's code.

    A check that itself fails (the student's cell broke something) is shown as
    a message, never as a traceback.

    A CheckResult shows itself in colour (green: passes, red: not yet).
    ``check`` shows it at once, so ``ex.check(x);`` works; a result already
    shown by the running cell is not shown again when it is also the cell's
    last value, so ``ex.check(x)`` without the ";" shows it once too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

CheckFn = Callable[..., list[str]]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    problems: tuple[str, ...] = ()
    # the cell run (IPython execution count) that showed this result; not part of its value
    _shown_in: int | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def message(self) -> str:
        if self.ok:
            return "Well done: the check passes."
        return "Not yet:\n" + "\n".join(f"  - {p}" for p in self.problems)

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        return _result_html(self)

    def _ipython_display_(self) -> None:
        count = _cell_run()
        if count is not None and self._shown_in == count:
            return                      # ex.check(...) as a cell's last value: shown already
        object.__setattr__(self, "_shown_in", count)
        from IPython.display import display
        display({"text/html": self._repr_html_(), "text/plain": self.message}, raw=True)


@dataclass
class Exercise:
    """One exercise: a task, a check and a hint."""

    task: str
    check_fn: CheckFn
    hint: str = ""
    title: str = "Exercise"
    attempts: list[CheckResult] = field(default_factory=list)

    def __init__(self, task: str, check: CheckFn, hint: str = "", title: str = "Exercise") -> None:
        self.task, self.check_fn, self.hint, self.title = task, check, hint, title
        self.attempts = []

    def run_check(self, *answer: Any, **kw: Any) -> CheckResult:
        """Run the check without displaying anything."""
        try:
            problems = list(self.check_fn(*answer, **kw))
        except Exception as e:  # the student's answer may be anything: explain, don't crash
            problems = [f"the check could not read your answer ({type(e).__name__}: {e})"]
        result = CheckResult(not problems, tuple(problems))
        self.attempts.append(result)
        return result

    def check(self, *answer: Any, **kw: Any) -> CheckResult:
        """Run the check and, in a notebook, show the result (once per cell run, whatever the cell ends with)."""
        result = self.run_check(*answer, **kw)
        if _cell_run() is not None:
            result._ipython_display_()
        return result

    # -- notebook display ----------------------------------------------------------
    def _repr_html_(self) -> str:
        return f"<div style='border-left:4px solid #1f77b4;padding-left:8px'><b>{_esc(self.title)}</b>: " \
               f"{_esc(self.task)}</div>"

    def widget(self) -> Any:
        """A task box with a one-click hint (ipywidgets)."""
        import ipywidgets as w
        out = w.Output()
        btn = w.Button(description="Hint", icon="lightbulb-o")

        def on_hint(_: Any) -> None:
            out.clear_output()
            with out:
                _show_html(f"<i>Hint:</i> {_esc(self.hint or 'no hint for this one')}")

        btn.on_click(on_hint)
        return w.VBox([w.HTML(self._repr_html_()), btn, out])

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget())


def _esc(text: str) -> str:
    import html
    return html.escape(str(text)).replace("\n", "<br>")


def _result_html(r: CheckResult) -> str:
    colour = "#2ca02c" if r.ok else "#d62728"
    return f"<div style='color:{colour};white-space:pre-wrap'>{_esc(r.message)}</div>"


def _cell_run() -> int | None:
    """The execution count of the running cell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else int(shell.execution_count)


def _show_html(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        return
    if get_ipython() is not None:
        display(HTML(text))
