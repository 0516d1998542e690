"""NAME
    imap_context - CONTEXT=SEARCH: search results kept up to date (RFC 5267 section 4)

SUMMARY
    srv.search_updates.append(SearchUpdate(tag, uid, test, {uid, ...}))
    send_removed(srv, expunged_uids)     # before the EXPUNGE lines of a sync
    send_changes(srv, existing_uids)     # after the sync's other lines

DESCRIPTION
    A SEARCH (or SORT) with RETURN (UPDATE) leaves its result behind. At
    every later synchronisation of the selected mailbox (after a command,
    during IDLE) the server tells how the result changed, as Dovecot's
    imap-sync.c does, in two steps: first, before the EXPUNGE lines, the
    expunged messages that were in it ("* ESEARCH (TAG "a1") UID REMOVEFROM
    (0 7)", sequence numbers still counted as before the expunge); then,
    after the EXISTS and flag lines, the messages that now match or no
    longer match ("... REMOVEFROM (0 3) ADDTO (0 9:10)"). The position is
    always 0, as Dovecot writes it. UID says the numbers are UIDs (the
    search was UID SEARCH). An expunged message that is not yet reported
    (no EXPUNGE after commands without UID) stays in the result.

    At most MAX_UPDATES results are kept; a further RETURN (UPDATE) is
    answered "* NO [NOUPDATE "tag"]" and not kept. CANCELUPDATE "tag"
    drops one; leaving the mailbox drops them all.

SEE ALSO
    RFC 5267 section 4, Dovecot imap-sync.c, cmd-cancelupdate.c
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection

from .imap_fetch import MessageView
from .imap_parse import format_set, quote
from .imap_search import SearchContext, Test
from .mailbox import StorageError

if TYPE_CHECKING:
    from .imap import ImapServer

MAX_UPDATES = 10


@dataclass
class SearchUpdate:
    tag: str
    uid: bool
    test: Test
    uids: set[int]


def _send(srv: ImapServer, update: SearchUpdate, removes: set[int], adds: set[int]) -> None:
    def numbers(uids: set[int]) -> str:
        if update.uid:
            return format_set(sorted(uids))
        return format_set(sorted(i for i, u in enumerate(srv.view, 1) if u in uids))

    line = f"* ESEARCH (TAG {quote(update.tag)})" + (" UID" if update.uid else "")
    if removes:
        line += f" REMOVEFROM (0 {numbers(removes)})"
    if adds:
        line += f" ADDTO (0 {numbers(adds)})"
    srv.send_line(line)


def send_removed(srv: ImapServer, expunged: Collection[int]) -> None:
    """Report expunged messages leaving kept results (before the EXPUNGE lines)."""
    for update in srv.search_updates:
        gone = update.uids & set(expunged)
        if gone:
            _send(srv, update, gone, set())
            update.uids -= gone


def send_changes(srv: ImapServer, existing: Collection[int]) -> None:
    """Report messages entering or leaving kept results (after the sync's other lines)."""
    if not srv.search_updates or srv.box is None:
        return
    count = len(srv.view)
    largest_uid = srv.view[-1] if srv.view else 0
    present = set(existing)
    for update in srv.search_updates:
        now = set()
        for seq, uid in enumerate(srv.view, 1):
            if uid not in present:
                matched = uid in update.uids
            else:
                view = MessageView(seq, srv.vinfo[uid], srv.box.data)
                try:
                    matched = update.test(SearchContext(view, count, largest_uid))
                except StorageError:
                    matched = uid in update.uids
            if matched:
                now.add(uid)
        if now != update.uids:
            _send(srv, update, update.uids - now, now - update.uids)
            update.uids = now


def cancel(srv: ImapServer, tag: str) -> bool:
    """Drop the kept result of TAG; False when there is none."""
    for i, update in enumerate(srv.search_updates):
        if update.tag == tag:
            del srv.search_updates[i]
            return True
    return False
