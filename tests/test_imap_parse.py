"""IMAP syntax pieces, and property tests: no input makes a parser or a core crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from dovecot_harness import CONN, FakeClock, LogCollector, lab_root, make_store, pump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.proto.actions import Close, Sleep
from simlab.proto.imap import ImapServer
from simlab.proto.imap_fetch import parse_fetch
from simlab.proto.imap_mime import bodystructure, envelope, parse_message
from simlab.proto.imap_parse import (
    Atom,
    ParseError,
    SequenceSet,
    String,
    astring,
    decode_mailbox,
    encode_mailbox,
    format_set,
    parse_args,
    quote,
)
from simlab.proto.imap_search import BadCharset, parse_search
from simlab.proto.pop3 import Pop3Server

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_imap_parse_args_atoms_strings_lists_literals() -> None:
    assert parse_args([b'INBOX "a \\"q\\"" (FLAGS BODY.PEEK[HEADER.FIELDS (A B)]<0.10>) {3}',
                       b"x\r\n", b" NIL"]) == [
        Atom("INBOX"), String(b'a "q"'), [Atom("FLAGS"), Atom("BODY.PEEK[HEADER.FIELDS (A B)]<0.10>")],
        String(b"x\r\n", literal=True), Atom("NIL")]
    assert parse_args([b"1:* (\\Seen \\Deleted)"]) == [Atom("1:*"), [Atom("\\Seen"), Atom("\\Deleted")]]
    for bad in (b"(a", b"a)", b'"open', b'"open \\', b"caf\xc3\xa9"):
        with pytest.raises(ParseError):
            parse_args([bad])
    # measured (dovecot_measured/sessions i_login_quoted_escape): any escaped character is itself
    assert parse_args([b'"er\\in"']) == [String(b"erin")]


def test_imap_sequence_sets_and_their_text() -> None:
    assert SequenceSet.parse("1:3,7,5:*").resolve(6) == [1, 2, 3, 5, 6, 7]
    assert SequenceSet.parse("*:4").resolve(2) == [2, 3, 4]
    assert SequenceSet.parse("559:*").contains(12, 12)    # RFC 3501: n:* holds the last UID
    assert format_set([1, 2, 3, 5, 7, 8]) == "1:3,5,7:8"
    for bad in ("", "0", "1:", "a", "1,,2", "01"):
        with pytest.raises(ParseError):
            SequenceSet.parse(bad)


def test_imap_modified_utf7_round_trip() -> None:
    for name in ("INBOX", "Entwürfe", "日本語/メール", "a&b", "~peter/mail/台北/日本語"):
        assert decode_mailbox(encode_mailbox(name)) == name
    assert encode_mailbox("a&b") == "a&-b"
    assert encode_mailbox("日本語") == "&ZeVnLIqe-"
    with pytest.raises(ValueError):
        decode_mailbox("&Jjo")


def test_imap_strings_are_quoted_or_literal() -> None:
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote(b"two\r\nlines") == "{10}\r\ntwo\r\nlines"
    assert astring("INBOX") == "INBOX" and astring("My Box") == '"My Box"' and astring("NIL") == '"NIL"'


def test_imap_envelope_addresses_groups_and_defaults() -> None:
    part = parse_message(b'From: "Doe, John" <john@example.com>\r\nTo: team: a@x.org, b@y.org;, '
                         b"c@z.org (Carl)\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n")
    assert envelope(part.header) == (
        'NIL "=?utf-8?q?caf=C3=A9?=" (("Doe, John" NIL "john" "example.com")) '
        '(("Doe, John" NIL "john" "example.com")) (("Doe, John" NIL "john" "example.com")) '
        '((NIL NIL "team" NIL)(NIL NIL "a" "x.org")(NIL NIL "b" "y.org")(NIL NIL NIL NIL)'
        '("Carl" NIL "c" "z.org")) NIL NIL NIL NIL').join("()")


def test_imap_message_rfc822_part_structure() -> None:
    inner = b"Subject: inner\r\n\r\nhi\r\n"
    raw = (b'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n'
           b"\r\n" + inner + b"--b--\r\n")
    part = parse_message(raw)
    assert part.find([1, 1]).body == b"hi"     # the CRLF before "--b" belongs to the boundary
    assert bodystructure(part, extended=False) == (
        '(("message" "rfc822" NIL NIL NIL "7bit" 20 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) '
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0) 2) "mixed")')  # lines = LFs


# -- properties ----------------------------------------------------------------------------
@FUZZ
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=4))
def test_imap_parsers_raise_only_their_own_errors(pieces: list[bytes]) -> None:
    try:
        args = parse_args([pieces[0]] + [p for p in pieces[1:]] + ([b""] if len(pieces) % 2 == 0 else []))
    except ParseError:
        return
    for parser, errors in ((parse_fetch, (ParseError,)), (parse_search, (ParseError, BadCharset))):
        try:
            parser(args if parser is parse_search else (args[0] if args else Atom("")))
        except errors:
            pass


@FUZZ
@given(st.text(max_size=30))
def test_imap_set_and_mailbox_decoders_fail_cleanly(text: str) -> None:
    try:
        SequenceSet.parse(text).resolve(5)
    except ParseError:
        pass
    try:
        decode_mailbox(text)
    except (ValueError, UnicodeDecodeError):
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_imap_mime_parser_accepts_any_message(raw: bytes) -> None:
    part = parse_message(raw)
    bodystructure(part)
    envelope(part.header)


_COMMANDS = st.sampled_from([
    b"a1 LOGIN erin erin-pw\r\n", b"a SELECT INBOX\r\n", b"b FETCH 1:* (FLAGS BODY[])\r\n",
    b"c STORE 1 +FLAGS (\\Deleted)\r\n", b"d EXPUNGE\r\n", b"e APPEND INBOX {5}\r\n", b"hello\r\n",
    b"f IDLE\r\n", b"DONE\r\n", b"g SEARCH OR 1 UID 2\r\n", b"h UID COPY 1:* INBOX\r\n",
    b"i AUTHENTICATE PLAIN\r\n", b"AGVyaW4AZXJpbi1wdw==\r\n", b"j LIST \"\" *\r\n"])


@FUZZ
@given(st.lists(st.one_of(_COMMANDS, st.binary(max_size=40)), max_size=12))
def test_imap_core_never_crashes_on_any_input(tmp_path: Path, chunks: list[bytes]) -> None:
    _drive(tmp_path, ImapServer, chunks)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from([b"USER erin\r\n", b"PASS erin-pw\r\n", b"RETR 1\r\n",
                                           b"TOP 2 0\r\n", b"DELE 1\r\n", b"AUTH PLAIN\r\n",
                                           b"QUIT\r\n"]), st.binary(max_size=40)), max_size=12))
def test_pop3_core_never_crashes_on_any_input(tmp_path: Path, chunks: list[bytes]) -> None:
    _drive(tmp_path, Pop3Server, chunks)


def _drive(tmp_path: Path, core_type: type, chunks: list[bytes]) -> None:
    import tempfile
    root = lab_root(Path(tempfile.mkdtemp(dir=tmp_path)))
    clock = FakeClock()
    core = core_type(make_store(root, clock), CONN, clock, LogCollector())
    pump(core, clock)
    for chunk in chunks + [b""]:
        if isinstance(core.next_action(), Close):
            break
        core.receive_data(chunk)
        pump(core, clock)
        assert not isinstance(core.next_action(), Sleep)
    assert isinstance(core.next_action(), Close)
