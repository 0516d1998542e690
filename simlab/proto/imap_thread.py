"""NAME
    imap_thread - THREAD and UID THREAD: ORDEREDSUBJECT, REFERENCES, REFS

SUMMARY
    cmd_thread(server, tag, "THREAD", args)   # a1 THREAD REFERENCES UTF-8 ALL
    "* THREAD (2)(3 6 (4 23)(44 7 96))"

DESCRIPTION
    THREAD algorithm charset search-keys threads the messages that match
    the keys (RFC 5256 section 2.2) and answers one "* THREAD" line of
    parenthesised threads, sequence numbers (UIDs with UID THREAD), then
    "OK Thread completed.". An algorithm other than the three is "BAD ...
    Unknown thread algorithm.", a missing one or charset "Invalid
    arguments.", a charset iconv does not know "NO [BADCHARSET]
    Unknown charset".

    ORDEREDSUBJECT sorts by base subject (see imap_sort), then sent date,
    then sequence; each run of one base subject is a thread, written
    "(1)", "(1 2)" or "(1 (2)(3))", and threads are ordered by their
    first message's sent date, then its number.

    REFERENCES is Dovecot's reading of the algorithm. Links: every
    message is a node named by its first valid Message-ID ("<left@right>",
    white space removed; none, or one already taken, gives a node of its
    own). The message-ids of References: (In-Reply-To:'s first when there
    is no valid References:) are chained parent to child, a link never
    replacing an earlier parent nor closing a loop, and the message hangs
    under the last of them, dropping a different parent it had. Nodes of
    ids no message carries are dummies: a message under a dummy moves up to
    its nearest real ancestor, or stays under the topmost dummy. Roots are
    ordered by sent date (the INTERNALDATE when there is none) and then UID;
    a dummy root takes its oldest child's place and, with one child only,
    is replaced by it. Then roots with the same non-empty base subject are
    merged (RFC 5256 2.2 step 5: a dummy absorbs the other, a reply goes
    under a non-reply, otherwise both go under a new dummy) and the roots
    sorted again. Children are ordered by sent date, then UID.

    REFS is Dovecot's variant (THREAD=REFS, draft-ietf-morg-inthread): the
    same links and child order, no subject merging, dummy roots kept as
    they are, and threads ordered by the latest sent date of any message in
    them (then the root's UID, 0 for a dummy), so the most recently active
    thread comes last. This follows Dovecot's index-thread-finish.c
    (sort_root_nodes_ref2) and the draft's definition of REFS.

SEE ALSO
    RFC 5256, draft-ietf-morg-inthread, Dovecot cmd-thread.c, index-thread-links.c,
    index-thread-finish.c
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .imap_esearch import finish, search_views
from .imap_fetch import MessageView
from .imap_parse import Arg, Atom, String
from .imap_sort import base_subject, sent_date, sort_views, subject_of

if TYPE_CHECKING:
    from .imap import ImapServer

ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES", "REFS")
_MSGID = re.compile(r"<([^<>]*)>")


def message_ids(value: str | None) -> list[str]:
    """The valid message-ids of a header value, in order, white space removed."""
    out = []
    for m in _MSGID.finditer(value or ""):
        text = re.sub(r"\s+", "", m.group(1))
        text = re.sub(r"\([^()]*\)", "", text).replace('"', "")
        if "@" in text and not text.startswith("@") and not text.endswith("@"):
            out.append(text)
    return out


class _Node:
    __slots__ = ("view", "parent", "kids", "dummy_root", "reply", "subject_parent", "ignore",
                 "key")

    def __init__(self, view: MessageView | None = None) -> None:
        self.view = view
        self.parent: _Node | None = None
        self.kids: list[_Node] = []
        self.dummy_root = False
        self.reply = False
        self.subject_parent: _Node | None = None
        self.ignore = False
        self.key: tuple[int, int] = (0, 0)


def _key(node: _Node) -> tuple[int, int]:
    assert node.view is not None
    return sent_date(node.view), node.view.info.uid


def _link(parent: _Node, child: _Node) -> None:
    up: _Node | None = parent
    while up is not None:
        if up is child:
            return
        up = up.parent
    if child.parent is None:
        child.parent = parent


def build_links(views: list[MessageView]) -> list[_Node]:
    """Every node (messages and dummies) with its parent link, in creation order."""
    nodes: list[_Node] = []
    by_id: dict[str, _Node] = {}

    def named(msgid: str) -> _Node:
        if msgid not in by_id:
            by_id[msgid] = _Node()
            nodes.append(by_id[msgid])
        return by_id[msgid]

    for view in views:
        header = view.part.header
        own = message_ids(header.get("message-id"))[:1]
        node = named(own[0]) if own else None
        if node is None or node.view is not None:
            node = _Node()
            nodes.append(node)
        node.view = view
        refs = message_ids(header.get("references")) or message_ids(header.get("in-reply-to"))[:1]
        parent = None
        for msgid in refs:
            ref = named(msgid)
            if parent is not None:
                _link(parent, ref)
            parent = ref
        if node.parent is not None and node.parent is not parent:
            node.parent = None
        if parent is not None:
            _link(parent, node)
    return nodes


def _shadow(nodes: list[_Node]) -> list[_Node]:
    """Roots; each message hung under its nearest real ancestor or the top dummy."""
    for node in nodes:
        node.kids = []
    roots = []
    for node in nodes:
        if node.parent is None:
            roots.append(node)
            node.dummy_root = node.view is None
            continue
        if node.view is None:
            continue
        up = node.parent
        while up.view is None and up.parent is not None:
            up = up.parent
        up.kids.append(node)
    return roots


def _sorted_kids(node: _Node) -> list[_Node]:
    return sorted(node.kids, key=_key) if len(node.kids) > 1 else list(node.kids)


def _sort_roots(roots: list[_Node]) -> list[_Node]:
    for i, root in enumerate(roots):
        if root.ignore:
            continue
        if root.view is None:
            kids = _sorted_kids(root)
            if not kids:
                root.ignore = True
            elif len(kids) == 1:
                roots[i] = kids[0]
                kids[0].key = _key(kids[0])
            else:
                root.key = _key(kids[0])
        else:
            root.key = _key(root)
    return sorted(roots, key=lambda r: r.key)


def _gather_subjects(roots: list[_Node]) -> None:
    table: dict[str, _Node] = {}
    for root in roots:
        if root.ignore:
            continue
        first = root if root.view is not None else _sorted_kids(root)[0]
        assert first.view is not None
        subject = subject_of(first.view)
        if subject is None:
            continue
        base, reply = base_subject(subject)
        if not base:
            continue
        held = table.get(base)
        if held is None:
            table[base] = root
        elif held.view is not None and (root.view is None or (held.reply and not reply)):
            held.subject_parent = root
            table[base] = root
        else:
            root.subject_parent = held
        root.reply = reply


def _merge_subjects(roots: list[_Node]) -> bool:
    changed = False
    for cur in list(roots):
        if cur.subject_parent is None or cur.ignore:
            continue
        top = cur.subject_parent
        while top.subject_parent is not None:
            top = top.subject_parent
        if cur.view is None:
            top.kids.extend(cur.kids)
            cur.kids = []
            cur.ignore = True
        elif top.view is None or (cur.reply and not top.reply):
            top.kids.append(cur)
            cur.ignore = True
        else:
            dummy = _Node()
            dummy.kids = [top, cur]
            top.subject_parent = dummy
            top.ignore = cur.ignore = True
            roots.append(dummy)
        changed = True
    return changed


def thread_references(views: list[MessageView]) -> list[_Node]:
    roots = _sort_roots(_shadow(build_links(views)))
    _gather_subjects(roots)
    if _merge_subjects(roots):
        roots = _sort_roots(roots)
    return [r for r in roots if not r.ignore]


def thread_refs(views: list[MessageView]) -> list[_Node]:
    nodes = build_links(views)
    roots = _shadow(nodes)
    latest: dict[int, int] = {}
    for node in nodes:
        if node.view is None:
            continue
        top = node
        while top.parent is not None:
            top = top.parent
        latest[id(top)] = max(latest.get(id(top), 0), sent_date(node.view))
    for root in roots:
        root.key = (latest.get(id(root), 0), root.view.info.uid if root.view else 0)
    return sorted((r for r in roots if r.view is not None or r.kids), key=lambda r: r.key)


def _number(node: _Node, uid: bool) -> str:
    assert node.view is not None
    return str(node.view.info.uid if uid else node.view.seq)


def _write(kids: list[_Node], uid: bool, top: bool) -> str:
    if len(kids) == 1 and not top:
        node = kids[0]
        below = _sorted_kids(node)
        return _number(node, uid) + (" " + _write(below, uid, False) if below else "")
    out = []
    for node in kids:
        below = _sorted_kids(node)
        if not below:
            out.append(f"({_number(node, uid)})")
        else:
            head = _number(node, uid) + " " if node.view is not None else ""
            out.append("(" + head + _write(below, uid, False) + ")")
    return "".join(out)


def ordered_subject(views: list[MessageView], uid: bool) -> str:
    ordered = sort_views(views, [("SUBJECT", False), ("DATE", False)])
    threads: list[list[MessageView]] = []
    previous: str | None = None
    for view in ordered:
        subject = subject_of(view)
        base = base_subject(subject)[0] if subject is not None else ""
        if base != previous or not threads:
            threads.append([])
        threads[-1].append(view)
        previous = base
    threads.sort(key=lambda t: (sent_date(t[0]), t[0].seq))
    out = []
    for thread in threads:
        ids = [str(v.info.uid if uid else v.seq) for v in thread]
        if len(ids) <= 2:
            out.append("(" + " ".join(ids) + ")")
        else:
            out.append(f"({ids[0]} " + "".join(f"({n})" for n in ids[1:]) + ")")
    return "".join(out)


def cmd_thread(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    uid = name.startswith("UID ")
    words = [a.value if isinstance(a, Atom) else a.text for a in args[:2]
             if isinstance(a, (Atom, String))]
    if len(words) < 2:
        srv.command_error(tag, name, "Invalid arguments.")
        return
    algorithm = words[0].upper()
    if algorithm not in ALGORITHMS:
        srv.command_error(tag, name, "Unknown thread algorithm.")
        return
    views = search_views(srv, tag, name, args[2:], words[1])
    if views is None:
        return
    if algorithm == "ORDEREDSUBJECT":
        body = ordered_subject(views, uid)
    else:
        roots = thread_references(views) if algorithm == "REFERENCES" else thread_refs(views)
        body = _write(roots, uid, True)
    srv.send_line("* THREAD " + body)
    finish(srv, tag, uid, "OK Thread completed.")
