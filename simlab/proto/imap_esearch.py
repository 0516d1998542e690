"""NAME
    imap_esearch - SEARCH, and the result forms SEARCH, SORT and THREAD share

SUMMARY
    cmd_search(server, tag, "UID SEARCH", args)
    returns, args = parse_returns(server, tag, args)   # RETURN (...) or None
    views = search_views(server, tag, name, args, charset)   # or compile_search + matching_views
    send_results(server, tag, uid, views, returns, sorting=False)

DESCRIPTION
    SEARCH and UID SEARCH answer "* SEARCH 2 3" (SORT: "* SORT 3 1 2").
    With RETURN (RFC 4731 ESEARCH; RFC 5267 ESORT for SORT) the answer is
    one line, '* ESEARCH (TAG "a1") UID MIN 2 MAX 9 ALL 2:4,9 COUNT 4',
    written as Dovecot writes it: UID after UID commands; MIN, MAX and
    ALL only when something matched; COUNT always when asked. For SORT,
    MIN and MAX are the first and last messages in sort order and ALL keeps
    the sort order, joining only ascending runs ("3,1:2"). RETURN () means
    ALL; CONTEXT (RFC 5267) is accepted and changes nothing; any other
    option is "Unknown SEARCH return option", a non-atom "SEARCH return
    options contain non-atoms.".

    SAVE (RFC 5182 SEARCHRES) keeps the UIDs of the result for "$" in
    later commands: all of them, or only the MIN and MAX ones when those are
    the only other options. As in Dovecot 2.3, the old result stays until
    the search has run: a search that fails to parse keeps it, and "$" in the
    search itself is the old result; RETURN (SAVE) alone sends no ESEARCH line. Leaving the mailbox forgets
    the saved result.

    UPDATE (RFC 5267 CONTEXT=SEARCH) keeps the result and reports its
    changes later (see imap_context); a second UPDATE, or a tag already
    kept, is refused. CANCELUPDATE "tag" ... drops kept results: "OK
    Updates cancelled.", "NO Unknown tag." or "Invalid parameters." (anything
    but quoted strings).

    After the result the usual mailbox synchronisation runs (no EXPUNGE
    lines after SEARCH and SORT without UID) and the tagged reply is "OK
    Search completed." or "OK Sort completed.".

SEE ALSO
    RFC 3501 6.4.4, RFC 4731, RFC 5267, RFC 5182, Dovecot imap-search.c, cmd-cancelupdate.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .imap_context import MAX_UPDATES, SearchUpdate, cancel
from .imap_fetch import MessageView
from .imap_messages import message_view, sync_mailbox
from .imap_parse import Arg, Atom, ParseError, String, format_set, quote
from .imap_search import BadCharset, SearchContext, Test, parse_search
from .mailbox import StorageError

if TYPE_CHECKING:
    from .imap import ImapServer

RETURN_OPTIONS = ("MIN", "MAX", "ALL", "COUNT", "SAVE", "UPDATE")
BADCHARSET_REPLY = "NO [BADCHARSET] Unknown charset"


def parse_returns(srv: ImapServer, tag: str, args: list[Arg]
                  ) -> tuple[frozenset[str] | None, list[Arg]]:
    """The RETURN options at the head of ARGS (None without RETURN) and the rest.

    Raises ParseError with Dovecot's text for a bad option list.
    """
    if len(args) < 2 or not isinstance(args[0], Atom) or args[0].upper != "RETURN" \
            or not isinstance(args[1], list):
        return None, args
    options: set[str] = set()
    for item in args[1]:
        if not isinstance(item, Atom):
            raise ParseError("SEARCH return options contain non-atoms.")
        word = item.upper
        if word == "UPDATE" and word in options:
            raise ParseError("SEARCH return options have duplicate UPDATE.")
        if word in RETURN_OPTIONS:
            options.add(word)
        elif word != "CONTEXT":
            raise ParseError("Unknown SEARCH return option")
    if "UPDATE" in options and any(u.tag == tag for u in srv.search_updates):
        raise ParseError("Duplicate search update tag")
    return frozenset(options or {"ALL"}), args[2:]


def search_views(srv: ImapServer, tag: str, name: str, args: list[Arg],
                 charset: str | None = None) -> list[MessageView] | None:
    """The messages of the selected mailbox that match the search keys ARGS.

    Replies itself (BAD, or NO [BADCHARSET ...]) and returns None when the
    keys are wrong.
    """
    test = compile_search(srv, tag, name, args, charset)
    return None if test is None else matching_views(srv, test)


def compile_search(srv: ImapServer, tag: str, name: str, args: list[Arg],
                   charset: str | None = None) -> Test | None:
    keywords: list[str] = []
    try:
        test = parse_search(args, charset, now=srv.clock(), saved=srv.saved_uids,
                            keywords=keywords)[1]
        if keywords and srv.box is not None:
            srv.box.register_keywords(keywords)
        return test
    except BadCharset:
        srv.tagged(tag, BADCHARSET_REPLY)
    except ParseError as exc:
        srv.command_error(tag, name, str(exc))
    return None


def matching_views(srv: ImapServer, test: Test) -> list[MessageView]:
    found = []
    count = len(srv.view)
    largest_uid = srv.view[-1] if srv.view else 0
    for seq in range(1, count + 1):
        view = message_view(srv, seq)
        try:
            if test(SearchContext(view, count, largest_uid)):
                found.append(view)
        except StorageError:
            continue
    return found


def send_results(srv: ImapServer, tag: str, uid: bool, views: list[MessageView],
                 returns: frozenset[str] | None, sorting: bool = False) -> None:
    """The untagged result of SEARCH or SORT (VIEWS in result order)."""
    ids = [v.info.uid if uid else v.seq for v in views]
    if returns is not None and "SAVE" in returns:
        keep = views
        if returns & {"MIN", "MAX"} and not returns & {"ALL", "COUNT"} and views:
            keep = ([views[0]] if "MIN" in returns else []) + \
                   ([views[-1]] if "MAX" in returns else [])
        srv.saved_uids = sorted({v.info.uid for v in keep})
    if returns is None:
        srv.send_line(("* SORT" if sorting else "* SEARCH") + "".join(f" {n}" for n in ids))
        return
    if returns == {"SAVE"}:
        return
    parts = [f"(TAG {quote(tag)})"] + (["UID"] if uid else [])
    if ids and "MIN" in returns:
        parts.append(f"MIN {ids[0]}")
    if ids and "MAX" in returns:
        parts.append(f"MAX {ids[-1]}")
    if ids and "ALL" in returns:
        parts.append(f"ALL {format_set(ids)}")
    if "COUNT" in returns:
        parts.append(f"COUNT {len(ids)}")
    srv.send_line("* ESEARCH " + " ".join(parts))


def finish(srv: ImapServer, tag: str, uid: bool, done: str) -> None:
    sync_mailbox(srv, expunges=uid)
    srv.tagged(tag, done)


def keep_updated(srv: ImapServer, tag: str, uid: bool, test: Test,
                 views: list[MessageView]) -> None:
    """Keep a RETURN (UPDATE) result for CONTEXT=SEARCH updates (imap_context)."""
    if len(srv.search_updates) >= MAX_UPDATES:
        srv.send_line(f"* NO [NOUPDATE {quote(tag)}]")
        return
    srv.search_updates.append(SearchUpdate(tag, uid, test, {v.info.uid for v in views}))


def cmd_search(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    uid = name.startswith("UID ")
    try:
        returns, args = parse_returns(srv, tag, args)
    except ParseError as exc:
        srv.command_error(tag, name, str(exc))
        return
    test = compile_search(srv, tag, name, args)
    if test is None:
        return
    views = matching_views(srv, test)
    send_results(srv, tag, uid, views, returns)
    if returns is not None and "UPDATE" in returns:
        keep_updated(srv, tag, uid, test, views)
    finish(srv, tag, uid, "OK Search completed.")


def cmd_cancelupdate(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if not args or not all(isinstance(a, String) and not a.literal for a in args):
        srv.command_error(tag, name, "Invalid parameters.")
        return
    for arg in args:
        assert isinstance(arg, String)
        if not cancel(srv, arg.text):
            srv.tagged(tag, "NO Unknown tag.")
            return
    srv.tagged(tag, "OK Updates cancelled.")
