"""The IMAP core beyond the recorded sessions: folders, APPEND, COPY, SEARCH, FETCH, IDLE."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dovecot_harness import CONN, FakeClock, LogCollector, lab_root, make_store, pump

from simlab.proto.actions import Close, NeedData
from simlab.proto.imap import COMMANDS, TRANSITIONS, ImapServer, State
from simlab.store.mbox import Mbox

TIMING = re.compile(r" \(\d+\.\d{3} \+ \d+\.\d{3} secs\)\.")


class Session:
    def __init__(self, root: Path, store: object, clock: FakeClock) -> None:
        self.root, self.store, self.clock = root, store, clock
        self.log = LogCollector()
        self.core = ImapServer(store, CONN, clock, self.log)  # type: ignore[arg-type]
        self.greeting = pump(self.core, clock).decode()

    def raw(self, data: bytes) -> str:
        self.core.receive_data(data)
        return TIMING.sub(".", pump(self.core, self.clock).decode())

    def __call__(self, line: str) -> str:
        return self.raw(line.encode() + b"\r\n")

    def login(self) -> "Session":
        assert "OK [CAPABILITY" in self("l LOGIN erin erin-pw")
        return self


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, object, FakeClock]:
    root = lab_root(tmp_path)
    clock = FakeClock()
    return root, make_store(root, clock), clock


@pytest.fixture
def imap(lab: tuple[Path, object, FakeClock]) -> Session:
    return Session(*lab).login()


def test_imap_folders_create_list_status_rename_delete(imap: Session) -> None:
    assert imap("a CREATE Archive") == "a OK Create completed.\r\n"
    assert imap("b CREATE Archive") == "b NO [ALREADYEXISTS] Mailbox already exists.\r\n"
    assert imap("c CREATE Lists/dovecot") == "c OK Create completed.\r\n"
    assert imap('d LIST "" "*"') == (
        '* LIST (\\HasNoChildren) "/" INBOX\r\n'
        '* LIST (\\NoInferiors) "/" Archive\r\n'      # empty mbox: neither marked nor not
        '* LIST (\\Noselect \\HasChildren) "/" Lists\r\n'
        '* LIST (\\NoInferiors) "/" Lists/dovecot\r\n'
        "d OK List completed.\r\n")
    assert imap('e LIST "" "%"').count("* LIST") == 3
    assert imap('f LIST "" ""') == '* LIST (\\Noselect) "/" ""\r\nf OK List completed.\r\n'
    assert imap("g STATUS Archive (MESSAGES UNSEEN)") == (
        "* STATUS Archive (MESSAGES 0 UNSEEN 0)\r\ng OK Status completed.\r\n")
    assert imap("h RENAME Archive Old") == "h OK Rename completed.\r\n"
    assert imap("i DELETE Archive") == "i NO [NONEXISTENT] Mailbox doesn't exist: Archive.\r\n"
    assert imap("j DELETE INBOX") == "j NO INBOX can't be deleted.\r\n"
    assert imap("k DELETE Lists") == "k NO [CANNOT] Mailbox has children, delete them first.\r\n"
    assert imap("l SELECT Nope") == "l NO Mailbox doesn't exist: Nope.\r\n"
    assert imap("m DELETE Old") == "m OK Delete completed.\r\n"
    assert (imap.root / "home/erin/mail/Lists/dovecot").is_file()


def test_imap_subscriptions_and_lsub(imap: Session) -> None:
    assert imap("a SUBSCRIBE INBOX") == "a OK Subscribe completed.\r\n"
    assert imap('b LSUB "" "*"') == '* LSUB () "/" INBOX\r\nb OK Lsub completed.\r\n'
    assert imap('c LIST (SUBSCRIBED) "" "*"') == (
        '* LIST (\\Subscribed) "/" INBOX\r\nc OK List completed.\r\n')  # no CHILDREN asked
    assert imap("d UNSUBSCRIBE INBOX") == "d OK Unsubscribe completed.\r\n"
    assert imap("e UNSUBSCRIBE INBOX") == "e NO [NONEXISTENT] Mailbox doesn't exist: INBOX.\r\n"
    assert (imap.root / "home/erin/mail/.subscriptions").read_text() == ""


def test_imap_mailbox_names_are_modified_utf7(imap: Session) -> None:
    assert imap("a CREATE &ZeVnLIqe-") == "a OK Create completed.\r\n"
    assert (imap.root / "home/erin/mail/日本語").is_file()
    assert '"/" &ZeVnLIqe-\r\n' in imap('b LIST "" "*"')


def test_imap_append_with_literal_continuation_then_select(imap: Session) -> None:
    message = b"From: bob@example.com\r\nSubject: appended\r\n\r\nhi\r\n"
    head = f'a APPEND INBOX (\\Flagged) "24-Nov-2026 14:00:00 +0100" {{{len(message)}}}\r\n'
    assert imap.raw(head.encode()) == "+ OK\r\n"
    assert imap.raw(message + b"\r\n") == "a OK [APPENDUID 1795527605 3] Append completed.\r\n"
    out = imap("b SELECT INBOX")
    assert "* 3 EXISTS\r\n* 3 RECENT\r\n* OK [UNSEEN 1] First unseen.\r\n" in out
    assert imap("c FETCH 3 (FLAGS INTERNALDATE RFC822.SIZE)") == (
        '* 3 FETCH (FLAGS (\\Flagged \\Recent) INTERNALDATE "24-Nov-2026 13:00:00 +0000" '
        f"RFC822.SIZE {len(message)})\r\nc OK Fetch completed.\r\n")
    text = (imap.root / "var/mail/erin").read_text()
    # Dovecot's save layout (measured, dovecot_measured/sessions i_append*): user@host sender
    assert "From erin@mail.example.com  Tue Nov 24 13:00:00 2026\n" in text
    assert "Status: \nX-Status: F\nX-Keywords:" in text and "Content-Length: 3\n\nhi\n" in text
    assert imap("d APPEND Nope {1+}\r\nx") == "d NO [TRYCREATE] Mailbox doesn't exist: Nope.\r\n"


def test_imap_copy_move_and_uid_commands(imap: Session) -> None:
    imap("a CREATE Archive")
    imap("b SELECT INBOX")
    assert imap("c COPY 1:2 Archive") == "c OK [COPYUID 1795527605 1:2 1:2] Copy completed.\r\n"
    assert imap("d COPY 1 Nope") == "d NO [TRYCREATE] Mailbox doesn't exist: Nope.\r\n"
    assert imap("e UID MOVE 2 Archive") == (
        "* OK [COPYUID 1795527605 2 3] Moved UIDs.\r\n* 2 EXPUNGE\r\n* 1 RECENT\r\n"
        "e OK Move completed.\r\n")
    assert imap("f UID COPY 9 Archive") == "f OK No messages found.\r\n"
    assert imap("g STATUS Archive (MESSAGES UIDNEXT RECENT)") == (
        "* STATUS Archive (MESSAGES 3 RECENT 3 UIDNEXT 4)\r\ng OK Status completed.\r\n")
    assert imap("h UID FETCH 1:* (FLAGS)") == (
        "* 1 FETCH (UID 1 FLAGS (\\Recent))\r\nh OK Fetch completed.\r\n")
    assert imap("i UID STORE 1 +FLAGS.SILENT (\\Deleted)") == "i OK Store completed.\r\n"
    assert imap("j UID EXPUNGE 1") == "* 1 EXPUNGE\r\n* 0 RECENT\r\nj OK Expunge completed.\r\n"


def test_imap_search_keys(imap: Session) -> None:
    imap("a SELECT INBOX")
    assert imap("b SEARCH SUBJECT second") == "* SEARCH 2\r\nb OK Search completed.\r\n"
    assert imap('c SEARCH FROM "alice example" NOT SUBJECT first') == (
        "* SEARCH 2\r\nc OK Search completed.\r\n")
    assert imap("d SEARCH OR SUBJECT first BODY blank") == "* SEARCH 1 2\r\nd OK Search completed.\r\n"
    assert imap("e SEARCH SINCE 24-Nov-2026 BEFORE 25-Nov-2026 LARGER 400") == (
        "* SEARCH 1 2\r\ne OK Search completed.\r\n")
    assert imap("f SEARCH SENTON 23-Nov-2026 UID 2:*") == "* SEARCH 2\r\nf OK Search completed.\r\n"
    assert imap("g SEARCH HEADER Message-ID popimap-1 RECENT NEW") == (
        "* SEARCH 1\r\ng OK Search completed.\r\n")
    assert imap("h SEARCH RETURN (MIN COUNT) ALL") == (
        '* ESEARCH (TAG "h") MIN 1 COUNT 2\r\nh OK Search completed.\r\n')
    assert imap("i SEARCH BOGUS") == "i BAD Error in IMAP command SEARCH: Unknown argument BOGUS.\r\n"
    assert imap("j SEARCH CHARSET X-NONE ALL") == "j NO [BADCHARSET] Unknown charset.\r\n"


def test_imap_fetch_bodystructure_and_sections(imap: Session) -> None:
    mime = (b"From: a@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\npreamble\r\n'
            b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
            b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=x.bin\r\n\r\nAAEC\r\n--XX--\r\n")
    imap.raw(b"a APPEND INBOX {%d+}\r\n" % len(mime) + mime + b"\r\n")
    imap("b EXAMINE INBOX")
    assert imap("c FETCH 3 BODYSTRUCTURE") == (
        # "hello" ends at the boundary's CRLF: 0 lines (measured, dovecot_measured/sessions i_append_mime)
        '* 3 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 0 NIL NIL '
        'NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" 4 NIL ("attachment" '
        '("filename" "x.bin")) NIL NIL) "mixed" ("boundary" "XX") NIL NIL NIL))\r\n'
        "c OK Fetch completed.\r\n")
    assert imap("d FETCH 3 (BODY[1] BODY.PEEK[2.MIME] BODY[TEXT]<0.8>)") == (
        "* 3 FETCH (BODY[1] {5}\r\nhello BODY[2.MIME] {126}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=x.bin\r\n\r\n BODY[TEXT]<0> {8}\r\npreamble)\r\n"
        "d OK Fetch completed.\r\n")
    assert imap("e FETCH 1 (BODY)") == (
        '* 1 FETCH (BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 48 2))\r\n'
        "e OK Fetch completed.\r\n")
    assert imap("f FETCH 1 (BODY[HEADER.FIELDS.NOT (Received Return-Path X-Original-To "
                "Delivered-To To Date Message-ID)])") == (
        "* 1 FETCH (BODY[HEADER.FIELDS.NOT (RECEIVED RETURN-PATH X-ORIGINAL-TO DELIVERED-TO TO "
        "DATE MESSAGE-ID)] {67}\r\nFrom: Alice Example <alice@example.com>\r\n"
        "Subject: First message\r\n\r\n)\r\nf OK Fetch completed.\r\n")
    assert imap("g FETCH 1 (FLAGS)") == "* 1 FETCH (FLAGS (\\Recent))\r\ng OK Fetch completed.\r\n"
    assert imap("h STORE 1 +FLAGS (\\Seen)") == "h OK Store ignored with read-only mailbox.\r\n"
    assert imap("i FETCH 1 (BOGUS)") == "i BAD Error in IMAP command FETCH: Unknown parameter: BOGUS.\r\n"


def test_imap_store_replace_remove_and_flag_errors(imap: Session) -> None:
    imap("a SELECT INBOX")
    assert imap("b STORE 1:2 FLAGS (\\Answered $Work)") == (
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] "
        "Flags permitted.\r\n"
        "* 1 FETCH (FLAGS (\\Answered \\Recent $Work))\r\n"
        "* 2 FETCH (FLAGS (\\Answered \\Recent $Work))\r\nb OK Store completed.\r\n")
    assert imap("c STORE 2 -FLAGS $Work") == (
        "* 2 FETCH (FLAGS (\\Answered \\Recent))\r\nc OK Store completed.\r\n")
    assert imap("d STORE 1 +FLAGS (\\Bogus)") == (
        "d BAD Error in IMAP command STORE: Invalid system flag \\BOGUS.\r\n")
    assert imap("e CHECK") == "e OK Check completed.\r\n"
    assert "X-Keywords: $Work" in (imap.root / "var/mail/erin").read_text()


def test_imap_new_mail_while_idle_and_from_another_session(
        lab: tuple[Path, object, FakeClock], imap: Session) -> None:
    imap("a SELECT INBOX")
    assert imap("b IDLE") == "+ idling\r\n"
    assert imap.core.next_action() == NeedData(30.0)
    Mbox(imap.root / "var/mail/erin").append(b"Subject: new\n\nnew mail\n", "bob@example.com",
                                             imap.clock())
    imap.clock.now += 30
    imap.core.timeout()
    assert pump(imap.core, imap.clock) == b"* 3 EXISTS\r\n* 3 RECENT\r\n"
    imap.clock.now += 5
    assert imap.raw(b"DONE\r\n") == "b OK Idle completed.\r\n"
    other = Session(*lab).login()
    other("x SELECT INBOX")
    other("y STORE 3 +FLAGS (\\Deleted)")
    other("z EXPUNGE")
    assert imap("c FETCH 1 FLAGS") == "* 1 FETCH (FLAGS (\\Recent))\r\nc OK Fetch completed.\r\n"
    assert imap("d NOOP") == "* 3 EXPUNGE\r\n* 2 RECENT\r\nd OK NOOP completed.\r\n"


def test_imap_timing_counts_the_wait_for_an_idle(imap: Session) -> None:
    imap.core.receive_data(b"a IDLE\r\n")
    pump(imap.core, imap.clock)
    imap.clock.now += 12.3456
    imap.core.receive_data(b"DONE\r\n")
    assert imap.core.data_to_send() == b"a OK Idle completed (0.001 + 12.346 secs).\r\n"


def test_imap_close_expunges_silently_and_unselect_does_not(imap: Session) -> None:
    imap("a SELECT INBOX")
    imap("b STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert imap("c UNSELECT") == "c OK Unselect completed.\r\n"
    imap("d SELECT INBOX")
    assert imap("e CLOSE") == "e OK Close completed.\r\n"
    assert imap("f FETCH 1 FLAGS") == "f BAD No mailbox selected.\r\n"
    assert imap("g STATUS INBOX (MESSAGES)") == "* STATUS INBOX (MESSAGES 1)\r\ng OK Status completed.\r\n"


def test_imap_select_twice_reports_closed(imap: Session) -> None:
    imap("a SELECT INBOX")
    assert imap("b EXAMINE INBOX").startswith("* OK [CLOSED] Previous mailbox closed.\r\n")


def test_imap_prelogin_commands_and_limits(lab: tuple[Path, object, FakeClock]) -> None:
    s = Session(*lab)
    assert s("a ID NIL") == '* ID ("name" "Dovecot")\r\na OK ID completed.\r\n'
    assert s("b STARTTLS") == "b BAD TLS support isn't enabled.\r\n"
    assert s("c NOOP") == "c OK NOOP completed.\r\n"
    assert s("d AUTHENTICATE PLAIN") == "+ \r\n"
    assert s("*") == "d BAD Authentication aborted by client.\r\n"
    assert s("e FETCH 1 FLAGS") == "e BAD Error in IMAP command received by server.\r\n"
    assert s("f LOGIN erin") == "f BAD Error in IMAP command received by server.\r\n"
    assert s("g LIST") == "* BYE Too many invalid IMAP commands.\r\n"
    assert isinstance(s.core.next_action(), Close)
    assert "Disconnected: Too many invalid commands (auth failed, 1 attempts in 0 secs)" in s.log[-1]


def test_imap_login_with_literals(lab: tuple[Path, object, FakeClock]) -> None:
    s = Session(*lab)
    assert s.raw(b"a LOGIN {4}\r\n") == "+ OK\r\n"
    assert s.raw(b"erin {7+}\r\nerin-pw\r\n").startswith("a OK [CAPABILITY IMAP4rev1")


def test_imap_errors_after_login(imap: Session) -> None:
    assert imap("a FETCH 1 FLAGS") == "a BAD No mailbox selected.\r\n"
    assert imap("b LOGIN erin erin-pw") == "b BAD Error in IMAP command LOGIN: Unknown command.\r\n"
    assert imap('c SELECT "unterminated') == (
        "c BAD Error in IMAP command SELECT: Missing '\"'.\r\n")
    imap("d SELECT INBOX")
    assert imap("e FETCH 1:x FLAGS") == "e BAD Error in IMAP command FETCH: Invalid messageset.\r\n"
    assert imap("f LOGOUT") == "* BYE Logging out\r\nf OK Logout completed.\r\n"
    assert isinstance(imap.core.next_action(), Close)


def test_imap_state_table() -> None:
    from simlab.proto.imap_login import PRE_LOGIN_COMMANDS
    from simlab.proto.imap_state import ALLOWED
    assert set(COMMANDS) | set(PRE_LOGIN_COMMANDS) == set(ALLOWED)
    assert all(State.NOT_AUTHENTICATED in ALLOWED[n] for n in PRE_LOGIN_COMMANDS)
    assert {s for states in ALLOWED.values() for s in states} == set(State) - {State.LOGOUT}
    assert {t[0] for t in TRANSITIONS} | {t[2] for t in TRANSITIONS} == set(State)


def test_imap_locked_mailbox_is_a_no_with_inuse(imap: Session) -> None:
    imap("a SELECT INBOX")
    imap("b STORE 1 +FLAGS (\\Deleted)")
    (imap.root / "var/mail/erin.lock").write_text("")
    assert imap("c EXPUNGE") == "c NO [INUSE] Timeout while waiting for lock.\r\n"
    (imap.root / "var/mail/erin.lock").unlink()
    assert imap("d EXPUNGE") == "* 1 EXPUNGE\r\n* 1 RECENT\r\nd OK Expunge completed.\r\n"
