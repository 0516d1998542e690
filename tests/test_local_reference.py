"""local(8) against the reference battery: mailbox bytes and delivery log lines of each scenario."""

from __future__ import annotations

import difflib

import pytest

from _delivery_lab import (lab, log_keys, normalize, read, replay, scenario, split_mbox, stop)

# scenario -> rewrite context of its listener
SCENARIOS = {
    "07_local_user_no_headers": "local",
    "08_local_user_from_outside": "remote",
    "10_alias_list": "local",
    "11_alias_quoted_name": "local",
    "13_alias_continuation": "local",
    "14_forward_file": "local",
    "16_virtual_alias_multi": "local",
    "17_virtual_alias_catchall": "local",
    "22_address_forms_local": "local",
    "23_unqualified_rcpt": "local",
    "53_overlong_data_line": "local",
    "61_dot_stuffing": "local",
    "68_null_sender": "local",
    "70_dsn_success": "local",
    "77_delivered_to_loop": "local",
    "80_rset_then_second_transaction": "local",
}


@pytest.fixture
def run(tmp_path):
    made = []

    def go(name, context):
        ctx = lab(tmp_path)
        made.append(ctx)
        replay(ctx, name, context)
        return ctx

    yield go
    for ctx in made:
        stop(ctx)


def _diff(ref: str, ours: str) -> str:
    return "".join(difflib.unified_diff(ref.splitlines(True), ours.splitlines(True), "reference", "simlab"))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_local_reference_mailboxes(run, name):
    ctx = run(name, SCENARIOS[name])
    data = scenario(name)
    assert data["deliveries"], name
    for dl in data["deliveries"]:
        ours = sorted(normalize(m) for m in split_mbox(read(ctx, "/" + dl["file"])))
        ref = sorted(normalize(m) for m in split_mbox(dl["content"]))
        assert ours == ref, f"{dl['file']}\n{_diff(''.join(ref), ''.join(ours))}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_local_reference_log_lines(run, name):
    ctx = run(name, SCENARIOS[name])
    programs = ("local", "qmgr", "bounce")
    ours = log_keys(ctx.log.lines, programs)
    ref = log_keys(scenario(name)["mail_log"], programs)
    assert sorted(ours) == sorted(ref)
