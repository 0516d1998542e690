"""NAME
    maincf_editor - edit main.cf, see postconf -n and its warnings, reload, see the address classes

SUMMARY
    m = MainCfModel.for_context(ctx, addresses=["alice@example.com", "bob@oreilly.com"])
    m = MainCfModel.for_system(postfix_system, net.run_sync, addresses=[...])   # reload = postfix reload
    m.text = m.text + "relay_domains = relay.example\\n"
    m.check()   -> PostconfRun(stdout, stderr, rc)       # on a scratch copy: the real file is untouched
    m.apply()   -> writes main.cf, postfix reload, then m.rows (the address-class table)
    MainCfEditor(m)

DESCRIPTION
    ``check`` runs ``postconf -c DIR -n`` (simlab.postfix.commands.postconf)
    on a scratch folder holding the edited main.cf and the real master.cf, and
    captures what it prints: the non-default settings on stdout, the
    ``postconf: warning: ...`` lines (unknown names, bad syntax, with file and
    line) on stderr. ``apply`` writes the file for real, calls the reload
    callback (``postfix reload``: the running instance re-reads main.cf) and
    asks trivial-rewrite's ``resolve`` for every test address, so the effect
    of a change on the address classes shows at once. An optional
    ``send_test(address)`` sends a test message and returns what happened.

    Everything is injected (postconf, reload, resolve, send_test); missing
    pieces are said in words. See postconf(1), postconf(5), ADDRESS_CLASS_README.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..viz.address_classes import address_class_figure, address_table_html
from ..viz._style import to_png
from ._safe import esc, guarded, plain_error, status_html


@dataclass
class PostconfRun:
    stdout: str
    stderr: str
    rc: int

    @property
    def warnings(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


def run_captured(fn: Callable[[list[str]], Any], argv: list[str]) -> PostconfRun:
    """Run a command's ``main(argv)`` and capture its stdout, stderr and exit code."""
    out, err = io.StringIO(), io.StringIO()
    rc: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = fn(argv)
        except SystemExit as exc:
            rc = exc.code
            if isinstance(rc, str):
                err.write(rc + "\n")
                rc = 1
    return PostconfRun(out.getvalue(), err.getvalue(), int(rc or 0))


def _default_postconf() -> Callable[[list[str]], Any]:
    from ..postfix.commands.postconf import main  # the configuration helper's module
    return main


class MainCfModel:
    """main.cf being edited, and what postconf and trivial-rewrite make of it."""

    def __init__(self, config_dir: str | Path, *, postconf: Callable[[list[str]], Any] | None = None,
                 reload: Callable[[], Any] | None = None, resolve: Callable[[str], Any] | None = None,
                 addresses: list[str] | tuple[str, ...] = (), send_test: Callable[[str], Any] | None = None) -> None:
        self.config_dir = Path(config_dir)
        self.postconf = postconf
        self.reload_fn = reload
        self.resolve_fn = resolve
        self.send_test_fn = send_test
        self.addresses = list(addresses)
        self.rows: list[Any] = []
        self.last: PostconfRun | None = None
        self.message = ""
        self.error = ""
        self.text = self.load()

    @classmethod
    def for_context(cls, ctx: Any, addresses: list[str] | tuple[str, ...] = (),
                    send_test: Callable[[str], Any] | None = None) -> "MainCfModel":
        """Wire the editor to a running instance: its /etc/postfix, ctx.reload and resolve(ctx, ...)."""
        def resolve(address: str) -> Any:
            from ..postfix.trivial_rewrite import resolve as tr_resolve
            return tr_resolve(ctx, address)
        return cls(ctx.path("/etc/postfix"), reload=ctx.reload, resolve=resolve, addresses=addresses,
                   send_test=send_test)

    @classmethod
    def for_system(cls, system: Any, run: Callable[[Any], Any], addresses: list[str] | tuple[str, ...] = (),
                   send_test: Callable[[str], Any] | None = None) -> "MainCfModel":
        """Wire the editor to a running PostfixSystem; ``run`` runs a coroutine (``net.run_sync``)."""
        model = cls.for_context(system.ctx, addresses, send_test)
        model.reload_fn = lambda: run(system.reload())
        return model

    @property
    def path(self) -> Path:
        return self.config_dir / "main.cf"

    def load(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError as exc:
            self.error = plain_error(exc, str(self.path))
            return ""

    def _postconf(self) -> Callable[[list[str]], Any]:
        if self.postconf is None:
            self.postconf = _default_postconf()
        return self.postconf

    def check(self, text: str | None = None) -> PostconfRun | None:
        """``postconf -n`` on the edited text, in a scratch copy of the configuration folder."""
        self.error = ""
        text = self.text if text is None else text
        try:
            fn = self._postconf()
            with tempfile.TemporaryDirectory(prefix="simlab-maincf-") as tmp:
                master = self.config_dir / "master.cf"
                if master.exists():
                    shutil.copy(master, Path(tmp) / "master.cf")
                (Path(tmp) / "main.cf").write_text(text, encoding="utf-8")
                run = run_captured(fn, ["-c", tmp, "-n"])
            run.stdout = run.stdout.replace(tmp, str(self.config_dir))
            run.stderr = run.stderr.replace(tmp, str(self.config_dir))
        except ImportError:
            self.error = "postconf is not available in this simlab yet (simlab.postfix.commands.postconf)."
            return None
        except Exception as exc:  # noqa: BLE001
            self.error = "postconf failed: " + plain_error(exc)
            return None
        self.last = run
        return run

    def apply(self, text: str | None = None) -> bool:
        """Write main.cf, reload, and recompute the address classes; False (with ``error``) on failure."""
        self.error, self.message = "", ""
        if text is not None:
            self.text = text
        try:
            tmp = self.path.with_name(".main.cf.simlab-tmp")
            tmp.write_text(self.text, encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            self.error = plain_error(exc, str(self.path))
            return False
        run = self.check()
        if self.reload_fn is not None:
            try:
                self.reload_fn()
                self.message = "main.cf written; postfix reload: the running instance re-read it."
            except Exception as exc:  # noqa: BLE001
                self.error = "main.cf was written, but the reload failed: " + plain_error(exc)
                return False
        else:
            self.message = "main.cf written (no running instance to reload)."
        if run is not None and run.warnings:
            self.message += f" postconf printed {len(run.warnings)} warning(s)."
        self.resolve_all()
        return True

    def resolve_all(self, addresses: list[str] | None = None) -> list[Any]:
        """Ask trivial-rewrite about every test address; failures become rows that say why."""
        if addresses is not None:
            self.addresses = list(addresses)
        self.rows = []
        if self.resolve_fn is None:
            if self.addresses:
                self.error = self.error or "Address classes are not wired up (no resolve function given)."
            return self.rows
        for a in self.addresses:
            try:
                self.rows.append(self.resolve_fn(a))
            except Exception as exc:  # noqa: BLE001
                self.rows.append({"address": a, "cls": "?", "transport": "", "nexthop": "",
                                  "why": "could not resolve: " + plain_error(exc)})
        return self.rows

    def send_test(self, address: str) -> str:
        if self.send_test_fn is None:
            return "Test messages are not wired up in this notebook."
        try:
            return str(self.send_test_fn(address))
        except Exception as exc:  # noqa: BLE001
            return "The test message failed: " + plain_error(exc)


class MainCfEditor:
    """The ipywidgets view of a MainCfModel."""

    def __init__(self, model: MainCfModel) -> None:
        import ipywidgets as w

        self.model = model
        self.editor = w.Textarea(value=model.text, layout=w.Layout(width="98%", height="16em"))
        self.check_btn = w.Button(description="Check (postconf -n)")
        self.apply_btn = w.Button(description="Apply (postfix reload)", button_style="warning")
        self.revert_btn = w.Button(description="Revert")
        self.addrs = w.Text(value=", ".join(model.addresses), description="addresses",
                            layout=w.Layout(width="70%"))
        self.test_to = w.Text(description="test to", layout=w.Layout(width="50%"))
        self.test_btn = w.Button(description="Send test message")
        self.postconf_out = w.HTML()
        self.table = w.HTML()
        self.figure = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.status = w.HTML()
        report = guarded(lambda text: setattr(self.status, "value", status_html(text, ok=False)))
        self.check_btn.on_click(report(lambda _: self._check()))
        self.apply_btn.on_click(report(lambda _: self._apply()))
        self.revert_btn.on_click(report(lambda _: self._revert()))
        self.test_btn.on_click(report(lambda _: self._test()))
        self.widget = w.VBox([w.HTML(f"<b>{esc(str(model.path))}</b>"), self.editor,
                              w.HBox([self.check_btn, self.apply_btn, self.revert_btn]), self.status,
                              self.postconf_out, self.addrs, self.table, self.figure,
                              w.HBox([self.test_to, self.test_btn])])

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _show_run(self) -> None:
        run = self.model.last
        if run is None:
            self.postconf_out.value = ""
            return
        warn = "".join(f"<div style='color:#b03a00'>{esc(ln)}</div>" for ln in run.warnings)
        self.postconf_out.value = (f"<b>postconf -n</b> (exit {run.rc})<pre style='margin:0'>{esc(run.stdout)}</pre>"
                                   + warn)

    def _status(self) -> None:
        m = self.model
        self.status.value = status_html(m.error, ok=False) if m.error else status_html(m.message)

    def _check(self) -> None:
        self.model.check(self.editor.value)
        self._show_run()
        self._status()

    def _apply(self) -> None:
        addrs = [a.strip() for a in self.addrs.value.split(",") if a.strip()]
        self.model.addresses = addrs
        self.model.apply(self.editor.value)
        self._show_run()
        self._status()
        if self.model.rows:
            self.table.value = address_table_html(self.model.rows)
            self.figure.value = to_png(address_class_figure(self.model.rows))

    def _revert(self) -> None:
        self.editor.value = self.model.text = self.model.load()
        self._status()

    def _test(self) -> None:
        self.status.value = status_html(self.model.send_test(self.test_to.value.strip()))
