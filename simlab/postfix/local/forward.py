"""NAME
    forward - .forward files, :include: files and forwarding by re-injection

SUMMARY
    found, status = await deliver_dotforward(state, attr, usr)
    status = await deliver_include(state, attr, usr, "/etc/postfix/incl.list")
    status = await deliver_indirect(state, attr)       # queue for forwarding
    status = await forward_finish(state, top_attr, cancel=False)

DESCRIPTION
    A user's .forward (the first file of forward_path that exists, e.g.
    ~/.forward+EXT, then ~/.forward) holds destinations like an alias
    value, one or more per line; lines that start with "#" are comments.
    Its destinations are delivered with the user's rights; the user's own
    name ("\\bob" or "bob" in bob's .forward) means the mailbox.

    An :include:/path/name destination reads more destinations from that
    file (an absolute path, a regular file, not world-writable). Mail for
    local recipients found there is always forwarded, never delivered
    directly. /file and |command destinations are not allowed in :include:
    files by default (allow_mail_to_files, allow_mail_to_commands).

    Forwarding re-submits the message through cleanup(8) as a new queue
    file: one per (Delivered-To address, sender), holding all recipients
    forwarded for that pair, with a "Received: by myhostname (Postfix) id
    NEWID" header and "Delivered-To: address" prepended. The original
    recipient is then logged once as "status=sent (forwarded as NEWID)".
    When any other destination of the recipient was deferred, nothing is
    forwarded (the whole recipient is tried again later).

PARAMETERS
    forward_path, forward_expansion_filter, allow_mail_to_files,
    allow_mail_to_commands, prepend_delivered_header.

SEE ALSO
    local(8), aliases(5)
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..bounce.client import TRACE_MTA_VRFY
from ..bounce.post import post_mail
from ..common.queue import Recipient
from .expand import EXTENSION_MATCHED, PARSE_ERROR, PARSE_UNDEF, local_expand
from .recipient import NESTING_LIMIT, deliver_token_string
from .state import (EXPAND_FWD, EXPAND_INCL, Attr, LocalState, UserAttr, evolve, wants_success,
                    without_success)

_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)    # as pathlib ignores them
_PASS_ATTRS = ("ret_flags", "envelope_id", "log_client_name", "log_client_address",
               "log_protocol_name", "log_helo_name", "sasl_method", "sasl_username",
               "sasl_sender", "log_ident", "rewrite_context")


async def deliver_dotforward(state: LocalState, attr: Attr, usr: UserAttr) -> tuple[bool, int]:
    """(found, status) for the recipient's .forward file (dotforward.c)."""
    cfg = state.cfg
    if not cfg["forward_path"].strip():
        return False, 0
    entry = state.ctx.passwd().get(attr.user)
    if entry is None:
        return False, 0
    usr = UserAttr(entry.uid, entry.gid, entry.home, entry.name, entry.shell)
    attr = evolve(attr, level=attr.level + 1, exp_type=EXPAND_FWD, owner=attr.user)
    path = None
    for candidate in cfg["forward_path"].replace(",", " ").split():
        text, status = local_expand(state, attr, usr, candidate, cfg["forward_expansion_filter"])
        if status & (PARSE_ERROR | PARSE_UNDEF):
            continue
        if _present(state.ctx.path(text)):
            path = text
            if status & EXTENSION_MATCHED or "forward" not in _prop(state):
                attr = evolve(attr, unmatched=None)
            break
    if path is None:
        return False, 0
    if state.rep.trace_flags & TRACE_MTA_VRFY:
        return True, state.sent(attr, "2.0.0", f"forward via file: {path}")
    if state.been_here(f"forward {path}"):
        return state.been_here_check(f"forward-done {path}"), 0
    attr = evolve(attr, exp_from=attr.local)
    real = state.ctx.path(path)
    st = real.stat()
    if not stat.S_ISREG(st.st_mode):
        state.warn(f"file {path} is not a regular file")
        return False, 0
    if st.st_mode & 0o002:
        state.warn(f"file {path} is world writable")
        return False, 0
    try:
        text = real.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        state.warn(f"cannot open file {path}: {exc.strerror}")
        return False, 0
    notify = attr.rcpt.notify
    attr = evolve(attr, rcpt=evolve(attr.rcpt, notify=without_success(notify)))
    status, count = await _token_lines(state, attr, usr, text)
    if count == 0:
        return False, status
    state.been_here(f"forward-done {path}")
    if status == 0 and wants_success(notify):
        state.trace(evolve(attr, rcpt=evolve(attr.rcpt, notify=notify)), "2.0.0",
                    "alias expanded", "expanded")
    return True, status


def _present(path: Path) -> bool:
    """path.exists() or path.is_symlink(), with the one lstat() that answers both."""
    try:
        os.lstat(path)
    except OSError as exc:
        if exc.errno in _NOT_THERE:
            return False
        raise
    except ValueError:
        return False
    return True


def _prop(state: LocalState) -> set[str]:
    return {w.lower() for w in state.cfg.get_list("propagate_unmatched_extensions")}


async def _token_lines(state: LocalState, attr: Attr, usr: UserAttr, text: str) -> tuple[int, int]:
    status = 0
    total = 0
    limit = max(1, state.cfg.get_int("line_length_limit"))
    for line in text.split("\n"):
        for i in range(0, max(1, len(line)), limit):
            chunk = line[i:i + limit]
            if chunk.startswith("#"):
                continue
            st, n = await deliver_token_string(state, attr, usr, chunk)
            total += n
            status |= st
            if status:
                return status, total
    return status, total


async def deliver_include(state: LocalState, attr: Attr, usr: UserAttr, path: str) -> int:
    """Deliver to the destinations in an :include: file (include.c)."""
    attr = evolve(attr, level=attr.level + 1)
    if attr.level > NESTING_LIMIT:
        state.warn(f":include: nesting limit exceeded for {path}")
        return state.bounce(attr, "5.4.6", ":include: nesting limit exceeded")
    if state.been_here(f"include {usr.uid} {path}"):
        return 0
    attr = evolve(attr, exp_from=attr.local)
    config_error = "mail system configuration error"
    if not path.startswith("/"):
        state.warn(f":include:{path} uses a relative path")
        return state.bounce(attr, "5.3.5", config_error)
    real = state.ctx.path(path)
    try:
        st = real.stat()
    except OSError as exc:
        state.warn(f"unable to lookup :include: file {path}: {exc.strerror}")
        return state.bounce(attr, "5.3.5", config_error)
    if not stat.S_ISREG(st.st_mode):
        state.warn(f":include: file {path} is not a regular file")
        return state.bounce(attr, "5.3.5", config_error)
    if st.st_mode & stat.S_IWOTH:
        state.warn(f":include: file {path} is world writable")
        return state.bounce(attr, "5.3.5", config_error)
    attr = evolve(attr, exp_type=EXPAND_INCL)
    if attr.owner is None:
        attr = evolve(attr, owner=attr.rcpt.address)
    try:
        text = real.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        state.warn(f"cannot open include file {path}: {exc.strerror}")
        return state.bounce(attr, "5.3.5", config_error)
    if "include" not in _prop(state):
        attr = evolve(attr, unmatched=None)
    status, _ = await _token_lines(state, attr, usr, text)
    return status


async def deliver_indirect(state: LocalState, attr: Attr) -> int:
    """Queue the recipient for forwarding (indirect.c, forward_append)."""
    if state.been_here(f"indirect {attr.rcpt.address}"):
        return 0
    if state.verify_only():
        return state.sent(attr, "2.0.0", f"forwards to {attr.rcpt.address}")
    key = ((attr.delivered or attr.rcpt.address), attr.sender)
    r = attr.rcpt
    state.forwards.setdefault(key, []).append(Recipient(r.address, r.orig, r.notify, r.orcpt))
    return 0


async def forward_finish(state: LocalState, top: Attr, cancel: bool) -> int:
    """Submit the forwarded messages; log the top-level recipient as forwarded."""
    status = 0
    if cancel:
        state.forwards = {}
        return 0
    attrs = {k: v for k, v in state.req.attrs.items() if k in _PASS_ATTRS and v}
    deliver_hdr = "forward" in [w.lower() for w in state.cfg.get_list("prepend_delivered_header")]
    for (delivered, sender), rcpts in state.forwards.items():
        header = f"Delivered-To: {delivered.lower()}\n".encode() if deliver_hdr else b""
        content = state.content

        def build(qid: str, now: float, header: bytes = header) -> bytes:
            return header + content

        new_qid = await post_mail(state.ctx, sender, rcpts, build, attrs)
        if new_qid is None:
            status |= state.defer(top, "4.3.0", "unable to forward message")
            continue
        rcpt = evolve(top.rcpt, notify=without_success(top.rcpt.notify))
        status |= state.sent(evolve(top, rcpt=rcpt), "2.0.0", f"forwarded as {new_qid}", "relayed")
    state.forwards = {}
    return status
