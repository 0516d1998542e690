"""The log and queue viewer model: filters, mailq, hold/release/delete/flush through callbacks."""

from __future__ import annotations

import sys

from simlab.widgets.logviewer import LogViewer, LogViewerModel, command_action
from test_viz_traces import deferral, journey


def test_filter_by_queue_id_host_and_text() -> None:
    v = LogViewerModel(deferral().trace)
    assert v.hosts() == ["mail.example.com"]
    assert v.qids()[:3] == ["D0D0D0D001", "B0B0B0B002", "C0C0C0C003"]
    lines = v.lines(qid="B0B0B0B002")
    assert len(lines) == 5 and all("postfix/" in ln for ln in lines)
    assert any("sender non-delivery notification: C0C0C0C003" in ln for ln in lines)
    assert any("C0C0C0C003" in ln for ln in v.lines(qid="C0C0C0C003"))
    assert any("non-delivery notification: C0C0C0C003" in ln for ln in v.lines(qid="C0C0C0C003"))
    assert [ln.split(": ", 1)[1] for ln in v.lines(contains="STATUS=SENT")] == [
        "D0D0D0D001: to=<carol@deferred.example>, relay=mx.deferred.example[10.0.0.9]:25, delay=901, "
        "delays=900/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as E1E1E1E1E1)",
        "C0C0C0C003: to=<alice@example.com>, relay=local, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, "
        "status=sent (delivered to mailbox)"]
    j = LogViewerModel(journey().trace)
    assert j.hosts() == ["mail.example.com", "mail.oreilly.com"]
    assert all(" mail " in ln for ln in j.lines(host="mail.example.com"))
    assert j.qids("mail.oreilly.com") == ["BBB2220002"]
    assert LogViewerModel().lines() == [] and LogViewerModel().qids() == []


def test_actions_call_the_callbacks_and_report_in_words() -> None:
    calls: list[tuple[str, ...]] = []
    v = LogViewerModel(deferral().trace, mailq=lambda: "Mail queue is empty",
                       hold=lambda q: calls.append(("hold", q)) or f"postsuper: {q}: placed on hold",
                       delete=lambda q: calls.append(("delete", q)),
                       flush=lambda: calls.append(("flush",)))
    assert v.mailq() == "Mail queue is empty"
    assert v.act("hold", "D0D0D0D001") == "postsuper: D0D0D0D001: placed on hold"
    assert v.act("delete", "D0D0D0D001") == "postsuper -d D0D0D0D001: done"
    assert v.act("flush") == "postqueue -f: done"
    assert calls == [("hold", "D0D0D0D001"), ("delete", "D0D0D0D001"), ("flush",)]
    assert v.act("hold") == "Choose a queue id first (postsuper -h works on one message)."
    assert v.act("release", "X") == "postsuper -H is not wired up in this notebook."
    assert v.act("explode", "X").startswith("Unknown action 'explode'")
    def denied(qid: str) -> None:
        raise PermissionError(13, "Permission denied")

    broken = LogViewerModel(mailq=lambda: 1 / 0, hold=denied)
    assert broken.mailq().startswith("mailq failed: Something went wrong: ZeroDivisionError")
    assert broken.act("hold", "Q") == "postsuper -h failed: Permission denied: Permission denied."
    assert LogViewerModel().mailq() == "(mailq is not wired up in this notebook)"


def test_command_action_captures_what_a_command_prints() -> None:
    def postsuper(argv: list[str]) -> int:
        print(f"postsuper: {argv[-1]}: placed on hold", file=sys.stderr)
        print("postsuper: Placed on hold: 1 message", file=sys.stderr)
        return 0

    hold = command_action(postsuper, ["--root", "/r", "-h"])
    assert hold("C086916052C") == "postsuper: C086916052C: placed on hold\npostsuper: Placed on hold: 1 message"
    silent = command_action(lambda argv: 0, ["-f"])
    assert silent() == "(exit 0)"


def test_view_filters_and_buttons() -> None:
    held: list[str] = []
    view = LogViewer(LogViewerModel(deferral().trace, mailq=lambda: "-Queue ID-  --Size--",
                                    hold=lambda q: held.append(q) or f"{q}: placed on hold"))
    assert view.host.options == ("(all)", "mail.example.com") and "D0D0D0D001" in view.qid.options
    view.qid.value = "B0B0B0B002"
    assert "B0B0B0B002: removed" in view.log.value and "D0D0D0D001: client" not in view.log.value
    view.buttons["hold"].click()
    assert held == ["B0B0B0B002"] and "placed on hold" in view.status.value
    assert view.qid.value == "B0B0B0B002"                 # still selected after the refresh
    view.buttons["release"].click()
    assert "not wired up" in view.status.value
    view.contains.value = "no line has this"
    assert "(no log lines match)" in view.log.value
    assert "-Queue ID-" in view.mailq.value
