"""postcat, mailq/postqueue and postsuper against the real Postfix 3.7.11 capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from _queue_lab import lab_root, queue_file_from_postcat, ref, run, write_defer_log
from simlab.postfix.commands import mailq, postcat, postqueue, postsuper
from simlab.postfix.commands.cmdutil import load_context
from simlab.postfix.common.queue import QueueStore

REASON = "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused"
ARRIVAL = 1795527573.5


@pytest.fixture
def deferred(tmp_path: Path) -> Path:
    """The queue of reference step 3: two deferred messages with their defer logs."""
    root = lab_root(tmp_path)
    store = QueueStore(load_context(root))
    for qid in ("C11D516053D", "C086916052C"):
        text = ref(f"postcat -q {qid}")["stdout"] if qid == "C11D516053D" else \
            ref("postcat -vq C086916052C")["stdout"].replace("regular_text: ", "")
        qf = queue_file_from_postcat(text, qid, ARRIVAL)
        store.write("deferred", qf)
        write_defer_log(store, qid, [r.address for r in qf.pending()], REASON)
    return root


def blocks(text: str) -> tuple[str, set[str], str]:
    """mailq output as (heading, message blocks, footer): the real order is readdir order."""
    lines = text.split("\n", 1)
    body, _, footer = lines[1].rpartition("\n-- ")
    return lines[0], {b.strip("\n") for b in body.split("\n\n")}, footer


def test_postcat_q_is_byte_identical(deferred: Path) -> None:
    want = ref("postcat -q C11D516053D")
    assert run(postcat, ["--root", str(deferred), "-q", "C11D516053D"]) == (0, want["stdout"], "")


@pytest.mark.parametrize("opts", ["-vq", "-eq", "-hq", "-bq"])
def test_postcat_part_selectors(deferred: Path, opts: str) -> None:
    want = ref(f"postcat {opts} C086916052C")
    rc, out, err = run(postcat, ["--root", str(deferred), opts, "C086916052C"])
    assert (rc, out, err) == (0, want["stdout"], want["stderr"])


def test_postcat_unknown_id(deferred: Path) -> None:
    rc, out, err = run(postcat, ["--root", str(deferred), "-q", "B38E3160552"])
    assert rc == 1 and err == "postcat: fatal: open queue file B38E3160552: No such file or directory\n"


def test_mailq_lists_deferred_mail_with_reasons(deferred: Path) -> None:
    want = ref("mailq", "mailq / postqueue -p with deferred")["stdout"]
    rc, out, err = run(mailq, ["--root", str(deferred)])
    assert rc == 0 and blocks(out) == blocks(want)
    assert err == ("postqueue: warning: Mail system is down -- accessing queue directly "
                   "(Connect to the Postfix showq service: Connection refused)\n")     # as measured
    rc, out, _ = run(postqueue, ["--root", str(deferred), "-p"])
    assert blocks(out) == blocks(want)


def test_postqueue_json(deferred: Path) -> None:
    want = ref("postqueue -j", "mailq / postqueue -p with deferred")["stdout"]
    rc, out, _ = run(postqueue, ["--root", str(deferred), "-j"])
    assert rc == 0 and sorted(out.splitlines()) == sorted(want.splitlines())


def test_empty_queue(tmp_path: Path) -> None:
    root = lab_root(tmp_path)
    assert run(mailq, ["--root", str(root)])[1] == ref("mailq", "empty queue")["stdout"]
    assert run(postqueue, ["--root", str(root), "-j"])[1] == ""


def test_hold_release_and_delete(deferred: Path) -> None:
    r = str(deferred)
    want = ref("postsuper -h C086916052C")
    assert run(postsuper, ["--root", r, "-h", "C086916052C"]) == (0, "", want["stderr"])
    held = ref("mailq", "postsuper -h")["stdout"]
    assert blocks(run(mailq, ["--root", r])[1]) == blocks(held)
    want = ref("postsuper -H C086916052C")
    assert run(postsuper, ["--root", r, "-H", "C086916052C"]) == (0, "", want["stderr"])
    assert run(postsuper, ["--root", r, "-d", "C086916052C"])[2] == \
        "postsuper: C086916052C: removed\npostsuper: Deleted: 1 message\n"
    assert run(postsuper, ["--root", r, "-d", "C086916052C"])[2] == "postsuper: Deleted: 0 messages\n"
    assert run(postsuper, ["--root", r, "-d", "bad/id"])[2] == \
        "postsuper: warning: invalid mail queue id: bad/id\npostsuper: Deleted: 0 messages\n"
    log = (deferred / "var/log/postfix.log").read_text()
    assert "postfix/postsuper[" in log and "]: C086916052C: placed on hold\n" in log


def test_expire_and_delete_all(deferred: Path) -> None:
    r = str(deferred)
    assert run(postsuper, ["--root", r, "-e", "C11D516053D"])[2] == \
        "postsuper: C11D516053D: expired\npostsuper: Force-expired: 1 message\n"
    assert '"forced_expire": true' in run(postqueue, ["--root", r, "-j"])[1]
    assert "C11D516053D#" in run(mailq, ["--root", r])[1]
    assert run(postsuper, ["--root", r, "-d", "ALL", "deferred"]) == (0, "", "postsuper: Deleted: 2 messages\n")
    assert run(mailq, ["--root", r])[1] == "Mail queue is empty\n"
    assert not list((deferred / "var/spool/postfix/defer").rglob("C*5*"))


def test_requeue_moves_to_maildrop(deferred: Path) -> None:
    assert run(postsuper, ["--root", str(deferred), "-r", "C11D516053D"])[2] == \
        "postsuper: C11D516053D: requeued\npostsuper: Requeued: 1 message\n"
    assert QueueStore(load_context(deferred)).find("C11D516053D") == "maildrop"


def test_long_queue_ids(tmp_path: Path) -> None:
    root = lab_root(tmp_path, enable_long_queue_ids="yes")
    store = QueueStore(load_context(root))
    want = ref("postcat -q 4jYkSt3ryBzBrr3")["stdout"]
    qf = queue_file_from_postcat(want, "4jYkSt3ryBzBrr3", 1795527598.54341)
    store.write("deferred", qf)
    write_defer_log(store, qf.qid, ["long@deferred.example"], REASON)
    assert run(postcat, ["--root", str(root), "-q", "4jYkSt3ryBzBrr3"])[1] == want
    assert run(mailq, ["--root", str(root)])[1] == ref("mailq", "mailq / postcat with a long")["stdout"]
    assert [p.relative_to(store.queue_dir("deferred")).as_posix() for p in store.queue_dir("deferred").rglob("4*")] \
        == ["8/4jYkSt3ryBzBrr3"]


def test_flush_needs_a_running_system(deferred: Path) -> None:
    rc, out, err = run(postqueue, ["--root", str(deferred), "-f"])
    assert rc == 69 and err == "postqueue: fatal: Cannot flush mail queue - mail system is down\n"
    rc, _, err = run(postqueue, ["--root", str(deferred), "-x"])
    assert rc == 69 and "invalid option -- 'x'" in err
