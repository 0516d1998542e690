"""Replay the 55 reference SMTP dialogs against smtpd on the virtual network.

Every server line must match Postfix 3.7's (queue ids aside), and so must the
smtpd and cleanup lines of the maillog (queue ids, pids and time stamps aside).
"""

from __future__ import annotations

import pytest

from postfix_lab import Lab, load, mask, receive_log, scenarios

SCENARIOS = [p.stem for p in scenarios()]


@pytest.mark.parametrize("name", SCENARIOS)
def test_smtpd_reference_replies(tmp_path, name):
    sc = load(name)
    lab = Lab(tmp_path)
    expected, got = lab.replay(sc)
    assert [mask(x) for x in got] == [mask(x) for x in expected]


@pytest.mark.parametrize("name", SCENARIOS)
def test_smtpd_reference_maillog(tmp_path, name):
    sc = load(name)
    lab = Lab(tmp_path)
    lab.replay(sc)
    assert receive_log(lab.maillog()) == receive_log(sc["mail_log"])
