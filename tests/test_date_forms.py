"""Dates on days 1-9, as real Postfix 3.7.11 wrote them on 4 December 2026.

The reference battery was captured on 24 November (two-digit day) and the
e2e comparison masks dates, so the padding of a one-digit day is checked here,
against lines of the measured scenarios (tests/data/smtp_measured): the
maillog pads with a zero ("Dec 04"), header dates and smtp-sink's Received:
date with a space ("Fri,  4 Dec 2026"), From_ lines of mailboxes and pipe(8)
are asctime(3) ("Fri Dec  4 04:36:08 2026").
"""

from __future__ import annotations

import calendar
import json
from pathlib import Path

from simlab.postfix.cleanup.headers import mail_date
from simlab.postfix.common.maillog import stamp
from simlab.postfix.pipe import mail_copy, parse_attrs
from simlab.postfix.smtp_sink import mail_date as sink_date
from simlab.store.mboxformat import asctime

MEASURED = Path(__file__).parent / "data" / "smtp_measured"
WHEN = calendar.timegm((2026, 12, 4, 4, 36, 8))


def _texts(name: str) -> tuple[list[str], list[str]]:
    sc = json.loads(next(MEASURED.glob(f"{name}_*.json")).read_text())
    return sc["mail_log"], [d["content"] for d in sc["deliveries"]]


def test_maillog_stamp_pads_the_day_with_a_zero() -> None:
    log, _ = _texts("106")
    assert log[0].startswith("Dec 04 04:36:07 mail postfix/smtpd[")
    assert stamp(WHEN) == "Dec 04 04:36:08"


def test_header_and_from_line_dates_pad_the_day_with_a_space() -> None:
    _, (box,) = _texts("106")
    assert box.startswith("From bob@example.com  Fri Dec  4 04:36:08 2026\n")
    assert "; Fri,  4 Dec 2026 04:36:08 +0000 (UTC)\n" in box
    assert asctime(WHEN) == "Fri Dec  4 04:36:08 2026"
    assert mail_date(WHEN) == "Fri,  4 Dec 2026 04:36:08 +0000 (UTC)"


def test_pipe_from_line_and_sink_received_date() -> None:
    _, (piped,) = _texts("221")
    assert "\nFrom bob@example.com  Fri Dec  4 " in piped
    out = mail_copy(b"x\n", "bob@example.com", "", "", parse_attrs(["flags=F", "user=nobody", "argv=/x"]), WHEN)
    assert out.startswith(b"From bob@example.com  Fri Dec  4 04:36:08 2026\n")
    _, dumps = _texts("153")
    assert "(smtp-sink) with ESMTP id " in dumps[0] and "\tFri,  4 Dec 2026 " in dumps[0]
    assert sink_date(WHEN) == "Fri,  4 Dec 2026 04:36:08 +0000 (UTC)"
