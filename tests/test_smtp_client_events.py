"""The client's reply events are ordinary frozen ReplyEvents (built without dataclass __init__)."""

from __future__ import annotations

import dataclasses

import pytest

from simlab.proto.smtp import ReplyEvent, SMTPClient, State
from simlab.proto.smtp_reply import Reply


def test_reply_events_equal_constructed_ones() -> None:
    core = SMTPClient("client.example", "a@example.com", ["b@example.net"], b"Subject: x\r\n\r\nhi\r\n",
                      clock=lambda: 7.0)
    core.receive_data(b"220 mx ESMTP\r\n")
    core.data_to_send()
    core.receive_data(b"250-mx\r\n250 PIPELINING\r\n")
    core.data_to_send()
    core.receive_data(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
    events = []
    while (ev := core.next_event()) is not None:
        events.append(ev)
    assert events == [
        ReplyEvent(State.GREETING, Reply(220, "", ("mx ESMTP",)), None, time=7.0),
        ReplyEvent(State.EHLO, Reply(250, "", ("mx", "PIPELINING")), None, time=7.0),
        ReplyEvent(State.MAIL, Reply(250, "2.1.0", ("2.1.0 Ok",)), None, time=7.0),
        ReplyEvent(State.RCPT, Reply(250, "2.1.5", ("2.1.5 Ok",)), 0, time=7.0),
        ReplyEvent(State.DATA, Reply(354, "", ("go",)), None, time=7.0),
    ]
    assert all(type(e) is ReplyEvent and repr(e) == repr(ReplyEvent(**vars(e))) for e in events)
    assert hash(events[0]) == hash(ReplyEvent(**vars(events[0])))
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].stale = True  # type: ignore[misc]
