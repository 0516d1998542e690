"""The advertised IMAP extensions: SORT, THREAD, ESEARCH/ESORT, SEARCHRES, WITHIN, LIST-STATUS,
MULTIAPPEND, BINARY, LIST-EXTENDED -- each as a dialog, command lines in and exact response
lines out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dovecot_harness import CONN, FakeClock, LogCollector, lab_root, make_store, pump

from simlab.proto.imap import ImapServer
from simlab.proto.imap_sort import base_subject

TIMING = re.compile(r" \(\d+\.\d{3} \+ \d+\.\d{3} secs\)\.")


class Session:
    def __init__(self, tmp_path: Path) -> None:
        self.root = lab_root(tmp_path)
        self.clock = FakeClock()
        self.core = ImapServer(make_store(self.root, self.clock), CONN, self.clock,  # type: ignore[arg-type]
                               LogCollector())
        pump(self.core, self.clock)
        assert "OK [CAPABILITY" in self("l LOGIN erin erin-pw")

    def raw(self, data: bytes) -> str:
        self.core.receive_data(data)
        return TIMING.sub(".", pump(self.core, self.clock).decode())

    def __call__(self, line: str) -> str:
        return self.raw(line.encode() + b"\r\n")

    def append(self, box: str, headers: list[str], internaldate: str, body: str = "x") -> None:
        msg = ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()
        head = f'a APPEND {box} "{internaldate}" {{{len(msg)}+}}\r\n'.encode()
        assert "OK [APPENDUID" in self.raw(head + msg + b"\r\n")


def ok(tag: str, *lines: str, done: str = "Sort") -> str:
    return "".join(f"{line}\r\n" for line in lines) + f"{tag} OK {done} completed.\r\n"


@pytest.fixture
def lab(tmp_path: Path) -> Session:
    """Mailbox Lab: four messages made to disagree on every sort criterion."""
    s = Session(tmp_path)
    s("c CREATE Lab")
    s.append("Lab", ["From: Zed <carol@example.com>", "To: bob@example.com",
                     "Subject: Re: Meeting", "Date: Mon, 23 Nov 2026 10:00:00 +0000"],
             "24-Nov-2026 10:00:00 +0000", "a" * 30)
    s.append("Lab", ["From: alice@example.com", "To: Dave <dave@example.com>",
                     "Cc: zoe@example.com", "Subject: meeting",
                     "Date: Sun, 22 Nov 2026 23:00:00 -0500"], "24-Nov-2026 09:00:00 +0000")
    s.append("Lab", ["From: Bob <bob@example.com>", "To: alice@example.com",
                     "Subject: [list] Fwd: Agenda (fwd)"], "21-Nov-2026 08:00:00 +0000", "b" * 10)
    s.append("Lab", ["From: =?utf-8?q?=C3=89mile?= <emile@example.com>", "To: carol@example.com",
                     "Subject: =?utf-8?q?agenda?=", "Date: Sat, 21 Nov 2026 12:00:00 +0000"],
             "24-Nov-2026 09:00:00 +0000", "c" * 50)
    assert "* 4 EXISTS" in s("s SELECT Lab")
    return s


# -- SORT ---------------------------------------------------------------------------------
@pytest.mark.parametrize("criteria, result", [
    ("ARRIVAL", "3 2 4 1"),            # 2 and 4 arrived in the same second: sequence order
    ("REVERSE ARRIVAL", "1 2 4 3"),    # ...and the tie is not reversed
    ("DATE", "3 4 2 1"),               # Date: in UTC; 3 has none, its INTERNALDATE counts
    ("SIZE", "3 2 1 4"),
    ("SUBJECT", "3 4 1 2"),            # AGENDA (3 is "[list] Fwd: ... (fwd)"), MEETING
    ("SUBJECT REVERSE DATE", "4 3 1 2"),
    ("FROM", "2 3 1 4"),               # alice bob carol emile: the mailbox, not the name
    ("DISPLAYFROM", "2 3 4 1"),        # alice@example.com Bob Émile Zed
    ("TO", "3 1 4 2"),
    ("DISPLAYTO", "3 1 4 2"),
    ("CC", "1 3 4 2"),                 # no Cc: sorts as ""
    ("DATE DATE ARRIVAL", "3 4 2 1"),  # a repeated criterion is ignored
    ("X-SCORE", "1 2 3 4"),            # no full-text search: every score is 0
])
def test_sort_criteria(lab: Session, criteria: str, result: str) -> None:
    assert lab(f"t SORT ({criteria}) UTF-8 ALL") == ok("t", f"* SORT {result}")


def test_uid_sort_with_search_keys_and_charsets(lab: Session) -> None:
    lab("a STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert lab("b EXPUNGE") == "* 1 EXPUNGE\r\n* 3 RECENT\r\nb OK Expunge completed.\r\n"
    assert lab("c UID SORT (REVERSE SIZE) US-ASCII ALL") == ok("c", "* SORT 4 2 3")
    assert lab("d SORT (REVERSE SIZE) us-ascii ALL") == ok("d", "* SORT 3 1 2")
    assert lab('e SORT (SUBJECT) "UTF-8" FROM bob') == ok("e", "* SORT 2")
    assert lab("f SORT (DATE) UTF-8 SUBJECT nothing") == ok("f", "* SORT")
    assert lab("g UID SORT (DATE) UTF-8 UID 3:*") == ok("g", "* SORT 3 4")


@pytest.mark.parametrize("command, reply", [
    ("SORT (DATE) X-NONE ALL", "NO [BADCHARSET] Unknown charset."),  # KOI8-R is known
    ("SORT DATE UTF-8 ALL", "BAD Error in IMAP command SORT: Invalid sort argument."),
    ("SORT () UTF-8 ALL", "BAD Error in IMAP command SORT: Empty sort program."),
    ("SORT (DATE REVERSE) UTF-8 ALL", "BAD Error in IMAP command SORT: Sort list ends with REVERSE."),
    ("SORT (Bogus) UTF-8 ALL", "BAD Error in IMAP command SORT: Unknown sort argument: Bogus."),
    ("SORT (DATE (SIZE)) UTF-8 ALL", "BAD Error in IMAP command SORT: Invalid sort list argument."),
    ("SORT (DATE) (UTF-8) ALL", "BAD Error in IMAP command SORT: Invalid charset argument."),
    ("SORT (DATE)", "BAD Error in IMAP command SORT: Invalid charset argument."),
    ("SORT (DATE) UTF-8", "BAD Error in IMAP command SORT: Missing search parameters."),
    ("SORT (DATE) UTF-8 BOGUS", "BAD Error in IMAP command SORT: Unknown argument BOGUS."),
    ("SORT (DATE) UTF-8 SUBJECT", "BAD Error in IMAP command SORT: Missing parameter for search "
                                  "key (for search key: SUBJECT)."),
    ("THREAD REFERENCES", "BAD Error in IMAP command THREAD: Invalid arguments."),
    ("THREAD X-JWZ UTF-8 ALL", "BAD Error in IMAP command THREAD: Unknown thread algorithm."),
    ("THREAD REFS BASE64 ALL", "NO [BADCHARSET] Unknown charset."),  # not a text codec
    ("THREAD REFS UTF-8", "BAD Error in IMAP command THREAD: Missing search parameters."),
])
def test_sort_and_thread_errors(lab: Session, command: str, reply: str) -> None:
    assert lab(f"t {command}") == f"t {reply}\r\n"


def test_sort_and_thread_need_a_selected_mailbox(tmp_path: Path) -> None:
    s = Session(tmp_path)
    assert s("a SORT (DATE) UTF-8 ALL") == "a BAD No mailbox selected.\r\n"
    assert s("b UID THREAD REFS UTF-8 ALL") == "b BAD No mailbox selected.\r\n"


@pytest.mark.parametrize("subject, base, reply", [
    ("Re: Re: [Fwd: Hello]", "HELLO", True),
    ("[PATCH] Fix it", "FIX IT", False),
    ("Re[2]: hi", "HI", True),
    ("Fwd: test (fwd) (fwd)", "TEST", True),
    ("[list] Re: [other] Fw: x", "X", True),
    ("Re: [Fwd: Re: deep] (fwd)", "DEEP", True),
    ("[a][b]", "[B]", False),          # a blob goes only when something is left after it
    ("Subject\twith   spaces ", "SUBJECT WITH SPACES", False),
    ("RE : spaced", "SPACED", True),
    ("Re:  =?utf-8?q?caf=C3=A9?=", "CAFE\u0301", True),
    ("(fwd)", "", True),
    ("Re", "RE", False),
])
def test_base_subject_rfc5256(subject: str, base: str, reply: bool) -> None:
    assert base_subject(subject) == (base, reply)


# -- THREAD ---------------------------------------------------------------------------------
def _message(msgid: str | None, day: int, subject: str, *extra: str) -> list[str]:
    head = [f"Message-ID: <{msgid}@example.com>"] if msgid else []
    return head + [f"Subject: {subject}", f"Date: {day:02d} Nov 2026 12:00:00 +0000", *extra]


@pytest.fixture
def threads(tmp_path: Path) -> Session:
    """Mailbox T: seq n has UID n+1 (a first message was expunged)."""
    s = Session(tmp_path)
    s("c CREATE T")
    s.append("T", ["Subject: gone"], "01-Nov-2026 00:00:00 +0000")
    msgs = [
        _message("a", 1, "Plan"),                                        # 1
        _message("b", 2, "Re: Plan", "References: <a@example.com>"),     # 2
        _message("c", 3, "Re: Plan", "In-Reply-To: <a@example.com>"),    # 3
        # its parent <gone@> is missing: it moves up under <a@>
        _message("d", 1, "Re: Plan", "References: <a@example.com>\r\n <gone@example.com>"),  # 4
        _message("e", 5, "Other", "References: <lost@example.com>"),     # 5
        _message("f", 4, "Other2", "References: <lost@example.com>"),    # 6
        _message(None, 6, "Re: Plan"),                                   # 7: no Message-ID
        ["Message-ID: <b@example.com>", "Subject: Lonely",
         "Date: 31 Oct 2026 12:00:00 +0000"],                            # 8: duplicate id
        _message("g", 7, "Re: Plan", "References: <bogus> <b@example.com>"),  # 9
    ]
    for headers in msgs:
        s.append("T", headers, "24-Nov-2026 12:00:00 +0000")
    s("s SELECT T")
    s("x STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert s("y EXPUNGE") == "* 1 EXPUNGE\r\n* 9 RECENT\r\ny OK Expunge completed.\r\n"
    return s


def test_thread_references(threads: Session) -> None:
    # 7 joins 1 by subject (a reply under a non-reply); 4 and 2 under 1 by date; the dummy
    # <lost@> keeps its two children; the duplicate Message-ID makes 8 a thread of its own
    assert threads("a THREAD REFERENCES UTF-8 ALL") == ok(
        "a", "* THREAD (8)(1 (4)(2 9)(3)(7))((6)(5))", done="Thread")
    assert threads("b UID THREAD REFERENCES UTF-8 ALL") == ok(
        "b", "* THREAD (9)(2 (5)(3 10)(4)(8))((7)(6))", done="Thread")
    # only matching messages are threaded: 5 alone is promoted from under its dummy
    assert threads("c THREAD REFERENCES US-ASCII SUBJECT plan") == ok(
        "c", "* THREAD (1 (4)(2 9)(3)(7))", done="Thread")
    assert threads("d THREAD REFERENCES UTF-8 5") == ok("d", "* THREAD (5)", done="Thread")


def test_thread_refs_orders_threads_by_latest_message(threads: Session) -> None:
    assert threads("a THREAD REFS UTF-8 ALL") == ok(
        "a", "* THREAD (8)((6)(5))(7)(1 (4)(2 9)(3))", done="Thread")
    assert threads("b UID THREAD refs utf-8 NOT SUBJECT other") == ok(
        "b", "* THREAD (9)(8)(2 (5)(3 10)(4))", done="Thread")


def test_thread_orderedsubject(threads: Session) -> None:
    assert threads("a THREAD ORDEREDSUBJECT UTF-8 ALL") == ok(
        "a", "* THREAD (8)(1 (4)(2)(3)(7)(9))(6)(5)", done="Thread")
    assert threads("b UID THREAD ORDEREDSUBJECT UTF-8 1:2,5") == ok(
        "b", "* THREAD (2 3)(6)", done="Thread")
    assert threads("c THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing") == ok(
        "c", "* THREAD ", done="Thread")


def test_thread_on_the_lab_mailbox(lab: Session) -> None:
    # no references at all: REFERENCES groups by subject, REFS leaves four threads
    assert lab("a THREAD REFERENCES UTF-8 ALL") == ok("a", "* THREAD (4 3)(2 1)", done="Thread")
    assert lab("b THREAD REFS UTF-8 ALL") == ok("b", "* THREAD (3)(4)(2)(1)", done="Thread")
    assert lab("c THREAD ORDEREDSUBJECT UTF-8 ALL") == ok("c", "* THREAD (3 4)(2 1)", done="Thread")


# -- ESEARCH, ESORT ------------------------------------------------------------------------
def test_esearch_return_options(lab: Session) -> None:
    assert lab("a SEARCH RETURN (MIN MAX COUNT ALL) NOT SUBJECT agenda") == ok(
        "a", '* ESEARCH (TAG "a") MIN 1 MAX 2 ALL 1:2 COUNT 2', done="Search")
    assert lab("b UID SEARCH RETURN () ALL") == ok(
        "b", '* ESEARCH (TAG "b") UID ALL 1:4', done="Search")
    assert lab("c SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nothing") == ok(
        "c", '* ESEARCH (TAG "c") COUNT 0', done="Search")
    assert lab("d SEARCH RETURN (MAX) 1,3") == ok("d", '* ESEARCH (TAG "d") MAX 3', done="Search")
    assert lab("e SEARCH RETURN (CONTEXT COUNT) ALL") == ok(
        "e", '* ESEARCH (TAG "e") COUNT 4', done="Search")
    assert lab("f SEARCH RETURN (FOO) ALL") == (
        "f BAD Error in IMAP command SEARCH: Unknown SEARCH return option.\r\n")
    assert lab('g SEARCH RETURN ("MIN") ALL') == (
        "g BAD Error in IMAP command SEARCH: SEARCH return options contain non-atoms.\r\n")


def test_esort_keeps_the_sort_order(lab: Session) -> None:
    assert lab("a SORT RETURN (MIN MAX ALL COUNT) (SUBJECT) UTF-8 ALL") == ok(
        "a", '* ESEARCH (TAG "a") MIN 3 MAX 2 ALL 3:4,1:2 COUNT 4')
    assert lab("b UID SORT RETURN () (REVERSE DATE) UTF-8 ALL") == ok(
        "b", '* ESEARCH (TAG "b") UID ALL 1:2,4,3')
    assert lab("c SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing") == ok(
        "c", '* ESEARCH (TAG "c") COUNT 0')


# -- SEARCHRES --------------------------------------------------------------------------------
def test_searchres_save_and_dollar(lab: Session) -> None:
    assert lab("a UID FETCH $ (UID)") == ok("a", done="Fetch")  # nothing saved yet
    assert lab("b SEARCH RETURN (SAVE) SUBJECT agenda") == ok("b", done="Search")
    assert lab("c FETCH $ (UID)") == ok("c", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)",
                                        done="Fetch")
    assert lab("d SEARCH $ FROM bob") == ok("d", "* SEARCH 3", done="Search")
    assert lab("e UID STORE $ +FLAGS (\\Flagged)") == ok(
        "e", "* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))",
        "* 4 FETCH (UID 4 FLAGS (\\Flagged \\Recent))", done="Store")
    # INBOX gets the time of the CREATE that synced it, like Lab (measured, move_status)
    assert lab("f COPY $ INBOX") == "f OK [COPYUID 1795527605 3:4 3:4] Copy completed.\r\n"
    # MIN and MAX alone save only those two; with COUNT or ALL the whole result
    assert lab("g SEARCH RETURN (MIN MAX SAVE) ALL") == ok(
        "g", '* ESEARCH (TAG "g") MIN 1 MAX 4', done="Search")
    assert lab("h SEARCH $") == ok("h", "* SEARCH 1 4", done="Search")
    assert lab("i SORT RETURN (SAVE MIN COUNT) (DATE) UTF-8 NOT FROM bob") == ok(
        "i", '* ESEARCH (TAG "i") MIN 4 COUNT 3')
    assert lab("j UID SEARCH UID $") == ok("j", "* SEARCH 1 2 4", done="Search")
    assert lab("k SEARCH $") == ok("k", "* SEARCH 1 2 4", done="Search")


def test_searchres_survives_a_failed_search_and_not_leaving(lab: Session) -> None:
    lab("a SEARCH RETURN (SAVE) 2:4")
    assert lab("b SEARCH RETURN (SAVE) BOGUS") == (
        "b BAD Error in IMAP command SEARCH: Unknown argument BOGUS.\r\n")
    assert lab("c SEARCH $") == ok("c", "* SEARCH 2 3 4", done="Search")  # Dovecot keeps it
    # "$" in the saving search is still the old result
    assert lab("c SEARCH RETURN (SAVE MAX) $") == ok("c", '* ESEARCH (TAG "c") MAX 4',
                                                     done="Search")
    assert lab("c SEARCH $") == ok("c", "* SEARCH 4", done="Search")
    lab("d SEARCH RETURN (SAVE) ALL")
    lab("e UNSELECT")
    lab("f SELECT Lab")
    assert lab("g FETCH $ FLAGS") == ok("g", done="Fetch")


def test_searchres_follows_expunges(lab: Session) -> None:
    lab("a SEARCH RETURN (SAVE) 2:3")
    lab("b STORE 2 +FLAGS.SILENT (\\Deleted)")
    lab("c EXPUNGE")
    assert lab("d FETCH $ (UID)") == ok("d", "* 2 FETCH (UID 3)", done="Fetch")


# -- WITHIN ----------------------------------------------------------------------------------
def test_within_younger_older_on_the_virtual_clock(lab: Session) -> None:
    lab.clock.now = 1795514400.0 + 3600     # 24-Nov-2026 10:00:00 +0000 (message 1) + 1 h
    assert lab("a SEARCH YOUNGER 3600") == ok("a", "* SEARCH 1", done="Search")
    assert lab("b SEARCH YOUNGER 3599") == ok("b", "* SEARCH", done="Search")
    assert lab("c SEARCH OLDER 3600") == ok("c", "* SEARCH 1 2 3 4", done="Search")
    assert lab("d SEARCH OLDER 3601") == ok("d", "* SEARCH 2 3 4", done="Search")
    assert lab("e UID SEARCH RETURN (COUNT) OLDER 86400") == ok(
        "e", '* ESEARCH (TAG "e") UID COUNT 1', done="Search")
    lab.clock.now += 0.75                   # whole seconds, as Dovecot's ioloop_time
    assert lab("f SEARCH YOUNGER 3600") == ok("f", "* SEARCH 1", done="Search")
    assert lab("g SORT (ARRIVAL) UTF-8 YOUNGER 10000") == ok("g", "* SORT 2 4 1")
    for bad in ("0", "-5", "x", "4294967296"):
        assert lab(f"h SEARCH OLDER {bad}") == (
            "h BAD Error in IMAP command SEARCH: Invalid search interval parameter.\r\n")
    assert lab("i SEARCH YOUNGER") == (
        "i BAD Error in IMAP command SEARCH: Missing parameter for search key "
        "(for search key: YOUNGER).\r\n")


# -- LIST-STATUS, MULTIAPPEND -------------------------------------------------------------------
def test_list_status(lab: Session) -> None:
    lab("a STORE 1 +FLAGS.SILENT (\\Seen)")
    assert lab('b LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))') == ok(
        # no child flags without RETURN (CHILDREN); items in Dovecot's order, not the client's
        "b", '* LIST () "/" INBOX', "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 2)",
        '* LIST (\\NoInferiors \\UnMarked) "/" Lab', "* STATUS Lab (MESSAGES 4 UIDNEXT 5 UNSEEN 3)",
        done="List")


def test_multiappend(lab: Session) -> None:
    out = lab.raw(b'a APPEND Lab (\\Seen) {5+}\r\nhello (\\Flagged) "01-Dec-2026 10:00:00 +0000"'
                  b" {5+}\r\nworld\r\n")
    assert out == ("* 6 EXISTS\r\n* 6 RECENT\r\n"
                   "a OK [APPENDUID 1795527605 5:6] Append completed.\r\n")
    assert lab("b NOOP") == "b OK NOOP completed.\r\n"
    assert lab("c FETCH 5:6 (FLAGS INTERNALDATE)") == ok(
        "c", '* 5 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE "24-Nov-2026 13:40:05 +0000")',
        '* 6 FETCH (FLAGS (\\Flagged \\Recent) INTERNALDATE "01-Dec-2026 10:00:00 +0000")',
        done="Fetch")
    # one bad message fails the whole command: nothing is saved
    assert lab.raw(b"d APPEND Lab {3+}\r\nabc {0+}\r\n\r\n") == (
        "d NO Can't save a zero byte message.\r\n")
    # Lab is selected: Dovecot adds [CLIENTBUG] (measured, dovecot_measured/sessions i_select_examine)
    assert lab("e STATUS Lab (MESSAGES)") == ok("e", "* STATUS Lab (MESSAGES 6)",
                                                done="[CLIENTBUG] Status on selected mailbox")


# -- BINARY ------------------------------------------------------------------------------------
MIME = (b"From: a@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\npreamble\r\n'
        b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nend\r\n"
        b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\nAAEC\r\nAw==\r\n"
        b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
        b"begin\r\n--XX--\r\n")


def test_binary_fetch(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s.raw(b"a APPEND INBOX {%d+}\r\n" % len(MIME) + MIME + b"\r\n")
    s("b SELECT INBOX")
    # BINARY.SIZE converts the whole message: the x-uuencode part 3 fails it, and the
    # FETCH line already begun is ended with the UID
    assert s("c FETCH 3 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2])") == (
        "* 3 FETCH (UID 3)\r\nc NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.\r\n")
    # a decoded part is a literal8 even without a NUL
    assert s("c FETCH 3 (BINARY.PEEK[1])") == ok(
        "c", "* 3 FETCH (BINARY[1] ~{9}\r\ncafé end)", done="Fetch")
    assert s.raw(b"d FETCH 3 (BINARY.PEEK[2])\r\n").encode() == (
        b"* 3 FETCH (BINARY[2] ~{4}\r\n\x00\x01\x02\x03)\r\nd OK Fetch completed.\r\n")
    assert s("e FETCH 1 (BINARY[1]<6.4>)") == ok(
        "e", "* 1 FETCH (FLAGS (\\Seen \\Recent) BINARY[1]<6> {4}\r\nerin)", done="Fetch")
    assert s("f UID FETCH 2 (RFC822.SIZE BINARY.SIZE[])") == ok(  # the whole message
        "f", "* 2 FETCH (UID 2 RFC822.SIZE 499 BINARY.SIZE[] 499)", done="Fetch")
    assert s("g FETCH 3 (BINARY.PEEK[3])") == (
        "* 3 FETCH (UID 3)\r\ng NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.\r\n")
    # sections other than part numbers are BODY's, undecoded; a partial on SIZE is ignored
    assert s("h FETCH 1 BINARY.PEEK[HEADER.FIELDS (SUBJECT)]") == ok(
        "h", "* 1 FETCH (BINARY[HEADER.FIELDS (SUBJECT)] {26}\r\nSubject: First message"
        "\r\n\r\n)", done="Fetch")
    assert s("i FETCH 1 BINARY.SIZE[1]<0.1>") == ok("i", "* 1 FETCH (BINARY.SIZE[1] 48)",
                                                     done="Fetch")
    assert s("j FETCH 1 BINARY.PEEK[0]") == ok("j", "* 1 FETCH (BINARY[0] {0}\r\n)",
                                                done="Fetch")


def test_append_takes_a_literal8(tmp_path: Path) -> None:
    s = Session(tmp_path)
    assert s.raw(b"a APPEND INBOX ~{11+}\r\nX: y\r\n\r\nz\x00z\r\n") == (
        "a OK [APPENDUID 1795527605 3] Append completed.\r\n")
    s("b SELECT INBOX")
    assert s.raw(b"c FETCH 3 (BINARY.PEEK[1])\r\n").encode() == (
        b"* 3 FETCH (BINARY[1] ~{5}\r\nz\x00z\r\n)\r\nc OK Fetch completed.\r\n")


# -- LIST-EXTENDED -------------------------------------------------------------------------------
def test_list_extended_selection_and_return_options(tmp_path: Path) -> None:
    s = Session(tmp_path)
    for line in ("CREATE Lists/dovecot", "CREATE Archive", "CREATE Deep/a/b",
                 "SUBSCRIBE Lists/dovecot", "SUBSCRIBE INBOX", "SUBSCRIBE Deep/a/b"):
        s("x " + line)
    assert s("x SUBSCRIBE Gone") == "x NO Mailbox doesn't exist: Gone.\r\n"
    # child flags only in a plain LIST or with RETURN (CHILDREN); an empty mbox folder is
    # \UnMarked only when listed from the subscriptions
    assert s('a LIST (SUBSCRIBED) "" "*"') == ok(
        "a", '* LIST (\\Subscribed \\NoInferiors \\UnMarked) "/" Lists/dovecot',
        '* LIST (\\Subscribed) "/" INBOX',   # in the order of the subscriptions file
        '* LIST (\\Subscribed \\NoInferiors \\UnMarked) "/" Deep/a/b', done="List")
    assert s('b LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (STATUS (MESSAGES))') == ok(
        "b", '* LIST (\\Noselect) "/" Lists (CHILDINFO ("SUBSCRIBED"))',
        '* LIST (\\Subscribed) "/" INBOX', "* STATUS INBOX (MESSAGES 2)",
        '* LIST (\\Noselect) "/" Deep (CHILDINFO ("SUBSCRIBED"))', done="List")
    # CHILDINFO only for subscribed children the pattern does not list itself
    assert s('b LIST (SUBSCRIBED RECURSIVEMATCH) "" "Deep/*"') == ok(
        "b", '* LIST (\\Subscribed \\NoInferiors \\UnMarked) "/" Deep/a/b', done="List")
    assert s('c LIST (REMOTE) "" "%" RETURN (CHILDREN SUBSCRIBED SPECIAL-USE)') == ok(
        "c", '* LIST (\\Subscribed \\HasNoChildren) "/" INBOX',
        '* LIST (\\NoInferiors) "/" Archive', '* LIST (\\Noselect \\HasChildren) "/" Deep',
        '* LIST (\\Noselect \\HasChildren) "/" Lists', done="List")
    assert s('d LIST (SPECIAL-USE) "" "*"') == ok("d", done="List")
    assert s('e LIST "" ("INBOX" "Arch*")') == ok(
        "e", '* LIST () "/" INBOX', '* LIST (\\NoInferiors) "/" Archive', done="List")
    assert s('f LIST "" "%"') == ok(
        "f", '* LIST (\\HasNoChildren) "/" INBOX', '* LIST (\\NoInferiors) "/" Archive',
        '* LIST (\\Noselect \\HasChildren) "/" Deep',
        '* LIST (\\Noselect \\HasChildren) "/" Lists', done="List")


@pytest.mark.parametrize("command, error", [
    ('LIST (RECURSIVEMATCH) "" "*"', "RECURSIVEMATCH must not be the only selection."),
    ('LIST (BOGUS) "" "*"', "Unknown select options."),
    ('LIST ("SUBSCRIBED") "" "*"', "List options contains non-atoms."),
    ('LIST "" "*" RETURN (BOGUS)', "Unknown return options."),
    ('LIST "" "*" RETURN (STATUS (MESSAGES BOGUS))', "Invalid status item BOGUS."),
    ('LIST "" "*" RETURN STATUS', "Extra arguments."),
])
def test_list_extended_errors(tmp_path: Path, command: str, error: str) -> None:
    assert Session(tmp_path)(f"t {command}") == f"t BAD Error in IMAP command LIST: {error}\r\n"


# -- CONTEXT=SEARCH --------------------------------------------------------------------------
def test_context_search_updates(lab: Session) -> None:
    assert lab("u UID SEARCH RETURN (UPDATE) UNSEEN") == ok(
        "u", '* ESEARCH (TAG "u") UID', done="Search")
    assert lab("v SEARCH RETURN (UPDATE COUNT) FROM example") == ok(
        "v", '* ESEARCH (TAG "v") COUNT 4', done="Search")
    assert lab("a STORE 2 +FLAGS (\\Seen)") == ok(
        "a", "* 2 FETCH (FLAGS (\\Seen \\Recent))", '* ESEARCH (TAG "u") UID REMOVEFROM (0 2)',
        done="Store")
    lab("b STORE 3 +FLAGS.SILENT (\\Deleted)")
    # expunged members leave first, numbered as before the EXPUNGE lines
    assert lab("c EXPUNGE") == ok(
        "c", '* ESEARCH (TAG "u") UID REMOVEFROM (0 3)', '* ESEARCH (TAG "v") REMOVEFROM (0 3)',
        "* 3 EXPUNGE", "* 3 RECENT", done="Expunge")
    lab.append("Lab", ["From: new@example.com", "Subject: new"], "25-Nov-2026 10:00:00 +0000")
    assert lab("d NOOP") == ok("d", done="NOOP")  # the APPEND already told
    assert lab("e STORE 1:* -FLAGS.SILENT (\\Seen)") == ok(
        "e", '* ESEARCH (TAG "u") UID ADDTO (0 2)', done="Store")
    assert lab('f CANCELUPDATE "u" "v"') == "f OK Updates cancelled.\r\n"
    assert lab("g STORE 1 +FLAGS (\\Seen)") == ok(
        "g", "* 1 FETCH (FLAGS (\\Seen \\Recent))", done="Store")


def test_context_search_new_mail_and_errors(lab: Session) -> None:
    lab("a SEARCH RETURN (UPDATE) SUBJECT new")
    msg = b"From: x@example.com\r\nSubject: new one\r\n\r\nx\r\n"
    assert lab.raw(b"b APPEND Lab {%d+}\r\n" % len(msg) + msg + b"\r\n") == (
        '* 5 EXISTS\r\n* 5 RECENT\r\n* ESEARCH (TAG "a") ADDTO (0 5)\r\n'
        "b OK [APPENDUID 1795527605 5] Append completed.\r\n")
    assert lab("a SEARCH RETURN (UPDATE) ALL") == (
        "a BAD Error in IMAP command SEARCH: Duplicate search update tag.\r\n")
    assert lab("c SEARCH RETURN (UPDATE UPDATE) ALL") == (
        "c BAD Error in IMAP command SEARCH: SEARCH return options have duplicate UPDATE.\r\n")
    assert lab('d CANCELUPDATE "nope"') == "d NO Unknown tag.\r\n"
    assert lab("e CANCELUPDATE a") == (
        "e BAD Error in IMAP command CANCELUPDATE: Invalid parameters.\r\n")
    for n in range(9):
        lab(f"k{n} SEARCH RETURN (UPDATE) ALL")
    assert lab("z SEARCH RETURN (UPDATE) ALL") == ok(
        "z", '* ESEARCH (TAG "z")', '* NO [NOUPDATE "z"]', done="Search")
    lab("x UNSELECT")
    lab("y SELECT Lab")
    assert lab('w CANCELUPDATE "a"') == "w NO Unknown tag.\r\n"


# -- CATENATE, URL-PARTIAL ------------------------------------------------------------------------
def test_catenate_builds_a_message_from_text_and_urls(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s("a SELECT INBOX")
    out = s.raw(b"b APPEND INBOX (\\Seen) CATENATE (TEXT {18+}\r\nSubject: partial\r\n"
                b' URL ";UID=1/;SECTION=TEXT/;PARTIAL=6.4"'
                b' URL "/INBOX;UIDVALIDITY=1795527605/;UID=2/;SECTION=1")'
                b" {8+}\r\nX: y\r\n\r\n\r\n")
    assert out == ("* 4 EXISTS\r\n* 4 RECENT\r\n"
                   "b OK [APPENDUID 1795527605 3:4] Append completed.\r\n")
    assert s("c FETCH 3 (BODY[])") == ok(
        "c", "* 3 FETCH (BODY[] {69}\r\nSubject: partial\r\nerinMessage two body.\r\n\r\n"
        "With a blank line above.\r\n)", done="Fetch")


@pytest.mark.parametrize("url, reason", [
    ("imap://erin@localhost/INBOX/;UID=1", "Invalid IMAP URL: Relative URL required"),
    ("http://example.com/", "Invalid IMAP URL: Not an IMAP URL"),
    ("/INBOX;UIDVALIDITY=5/;UID=1", "Invalid UIDVALIDITY"),
    ("/INBOX/;UID=99", "Message not found"),
    ("/Nope/;UID=1", "Mailbox doesn't exist: Nope"),
    ("/INBOX/;UID=0", "Invalid IMAP URL: UID cannot be zero"),
    ("/INBOX/;UID=1/extra", "Invalid IMAP URL: Unexpected IMAP URL path segment: `extra'"),
    (";UID=1", "Mailbox-relative IMAP URL, but no mailbox selected"),
])
def test_catenate_bad_urls(tmp_path: Path, url: str, reason: str) -> None:
    s = Session(tmp_path)
    assert s(f'a APPEND INBOX CATENATE (TEXT {{2+}}\r\nX\n URL "{url}")') == (
        f"a NO [BADURL {url}] {reason}.\r\n")
    assert s("b STATUS INBOX (MESSAGES)") == ok("b", "* STATUS INBOX (MESSAGES 2)", done="Status")


def test_catenate_urls_without_a_part_get_the_last_storage_error(tmp_path: Path) -> None:
    # Dovecot 2.3.19 fails these without an error of its own: "NO" and whatever failed last
    s = Session(tmp_path)
    cat = 'APPEND INBOX CATENATE (TEXT {{2+}}\r\nX\n URL "{}")'.format
    assert s("a " + cat("/INBOX/;UID=1/;SECTION=BOGUS")) == (
        "a NO [SERVERBUG] BUG: Unknown internal error.\r\n")
    assert s("b " + cat("/INBOX/;UID=77")) == "b NO [BADURL /INBOX/;UID=77] Message not found.\r\n"
    assert s("c " + cat("/INBOX")) == "c NO [EXPUNGEISSUED] Message was expunged.\r\n"
    s("d " + cat("/Nope/;UID=1"))
    assert s("e " + cat("/INBOX?SUBJECT%20x")) == "e NO Mailbox doesn't exist: Nope.\r\n"


def test_catenate_list_errors(tmp_path: Path) -> None:
    # Dovecot stops at the bad item and reads the rest of the line as a new command
    s = Session(tmp_path)
    invalid_tag = "* BAD Error in IMAP tag: Invalid tag.\r\n"
    assert s('a APPEND INBOX CATENATE (FOO "x")') == (
        "a BAD Error in IMAP command APPEND: Invalid arguments.\r\n" + invalid_tag)
    assert s('b APPEND INBOX CATENATE ("x")') == (
        "b BAD Error in IMAP command APPEND: Invalid arguments.\r\n" + invalid_tag)
    assert s('c APPEND INBOX CATENATE (TEXT "not a literal")') == (
        "c BAD Error in IMAP command APPEND: Invalid arguments.\r\n" + invalid_tag)
    assert s('d APPEND INBOX CATENATE (URL "/INBOX/;UID=1" BOGUS x)') == (
        "d BAD Error in IMAP command APPEND: Invalid arguments.\r\n" + invalid_tag)
    assert s("e APPEND INBOX CATENATE ()") == (
        "e BAD Error in IMAP command APPEND: Empty CATENATE list.\r\n")
