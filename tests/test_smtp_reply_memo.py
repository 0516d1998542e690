"""ReplyParser remembers whole chunks it parsed: the memo gives what parsing gives, limits included."""

from __future__ import annotations

import pytest

from simlab.proto import smtp_reply
from simlab.proto.smtp_reply import Reply, ReplyParser, SMTPProtocolError

EHLO = b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
PIPELINED = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"


def test_a_chunk_parsed_again_gives_equal_replies() -> None:
    smtp_reply._MEMO.clear()
    first = ReplyParser().feed(PIPELINED)
    assert PIPELINED in smtp_reply._MEMO
    again = ReplyParser().feed(PIPELINED)
    assert again == first and again is not first
    assert [r.code for r in again] == [250, 250, 354] and again[1].enhanced == "2.1.5"
    again.append(Reply(221))       # the caller's list is its own
    assert ReplyParser().feed(PIPELINED) == first


def test_the_memo_keeps_each_parser_s_line_limit() -> None:
    smtp_reply._MEMO.clear()
    assert ReplyParser().feed(EHLO)[0].text_lines == ("mx.example", "PIPELINING", "SIZE 1000")
    with pytest.raises(SMTPProtocolError):
        ReplyParser(max_lines=2).feed(EHLO)


def test_the_memo_is_used_only_between_replies() -> None:
    smtp_reply._MEMO.clear()
    p = ReplyParser()
    assert p.feed(b"250-mx.example\r\n") == []
    assert p.feed(b"250 PIPELINING\r\n")[0].text_lines == ("mx.example", "PIPELINING")
    assert b"250 PIPELINING\r\n" not in smtp_reply._MEMO      # the end of a reply, not a reply
    assert ReplyParser().feed(b"250 PIPELINING\r\n")[0].text_lines == ("PIPELINING",)
    p = ReplyParser()
    assert p.feed(b"250 Ok\r\n250-more") == [Reply(250, "", ("Ok",))]
    assert b"250 Ok\r\n250-more" not in smtp_reply._MEMO       # it left a partial line behind
    assert p.pending


def test_the_memo_stays_small() -> None:
    smtp_reply._MEMO.clear()
    for i in range(smtp_reply._MEMO_MAX + 10):
        assert ReplyParser().feed(b"250 2.0.0 Ok: queued as %d\r\n" % i)[0].code == 250
    assert len(smtp_reply._MEMO) <= smtp_reply._MEMO_MAX
    big = b"250-" + b"x" * smtp_reply._MEMO_CHUNK + b"\r\n250 end\r\n"
    ReplyParser(max_line=2 * smtp_reply._MEMO_CHUNK).feed(big)
    assert big not in smtp_reply._MEMO
