"""NAME
    mailbox - local(8)'s final deliveries: mailbox, /file, Maildir, |command, other transport

SUMMARY
    found, status = await deliver_mailbox(state, attr, usr)
    status = await deliver_file(state, attr, usr, "/home/bob/forward-copy.mbox")
    status = await deliver_command(state, attr, usr, "/usr/local/bin/lab-alias-pipe")

DESCRIPTION
    Mailbox delivery (once per local user and recipient) goes, in this
    order of precedence, to mailbox_transport_maps / mailbox_transport
    (another master.cf transport gets the recipient), mailbox_command_maps
    / mailbox_command (a command gets the message), home_mailbox (relative
    to the home directory; a trailing "/" means Maildir), or the UNIX
    mailbox mail_spool_directory/USER (a trailing "/" makes that a Maildir
    too). A user that is not in /etc/passwd has no mailbox: unknown.c
    decides what happens then.

    A UNIX mailbox or /file gets a "From sender  date" line, then
    Return-Path:, X-Original-To: (the address as the client gave it),
    Delivered-To: (the address being delivered, before alias expansion),
    the message with ">From " quoting, and an empty line. A Maildir file
    gets the three headers and the message. A command reads the From_
    line, the headers and the message, without quoting and without the
    final empty line; its exit status decides (sysexits: 75 defers, 67
    bounces "user unknown", any other non-zero bounces "Command died with
    status N"). mailbox_command is used as written (no $name expansion, so
    that "$SENDER" is the shell's); a command with only plain characters is
    executed directly, any other through /bin/sh -c (a small built-in shell
    on a simulated host, simlab.sim.shell), with SENDER, RECIPIENT, USER,
    LOGNAME, LOCAL, DOMAIN, EXTENSION, HOME, SHELL, ORIGINAL_RECIPIENT and
    CLIENT_* / SASL_* in its environment (values outside
    command_expansion_filter become "_").

    Status texts: "delivered to mailbox", "delivered to maildir",
    "delivered to file: PATH", "delivered to command: CMD". A locked
    mailbox is tried deliver_lock_attempts times, deliver_lock_delay apart
    (in virtual time), then deferred.

PARAMETERS
    mail_spool_directory, home_mailbox, mailbox_command, mailbox_command_maps,
    mailbox_transport, mailbox_transport_maps, mailbox_size_limit, local_command_shell,
    prepend_delivered_header, allow_mail_to_files, command_time_limit,
    command_expansion_filter, export_environment, deliver_lock_attempts,
    deliver_lock_delay, default_privs.

SEE ALSO
    local(8), mbox(5), maildir(5)
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import weakref
from dataclasses import replace
from typing import Any

from ...store.maildir import Maildir
from ...store.mbox import Mbox
from ...store.message import MailboxError, MailboxLockedError
from ..commands_registry import find_command, is_real
from ..maps import MapError
from ..maps.address import maps_find
from ..trivial_rewrite import quote_822_local
from .state import Attr, LocalState, UserAttr, mask

# exec_command(): characters that need no shell (blanks too)
_EXEC_OK = frozenset("1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t")
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)    # as pathlib ignores them
_counters: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def maildir_counter(ctx: Any) -> Any:
    if ctx not in _counters:
        count = itertools.count(0x10000)
        _counters[ctx] = lambda: next(count)
    return _counters[ctx]


def copy_headers(state: LocalState, attr: Attr, *, delivered: bool) -> bytes:
    """Return-Path:, X-Original-To: and (optionally) Delivered-To: as mail_copy() writes them."""
    out = f"Return-Path: <{quote_822_local(attr.sender) if attr.sender else ''}>\n"
    if attr.rcpt.orig:
        out += f"X-Original-To: {quote_822_local(attr.rcpt.orig)}\n"
    if delivered:
        out += f"Delivered-To: {quote_822_local(attr.delivered or attr.rcpt.address)}\n"
    return out.encode("utf-8", "surrogateescape")


def _hdr_flag(state: LocalState, word: str) -> bool:
    return word in [w.lower() for w in state.cfg.get_list("prepend_delivered_header")]


def _user(state: LocalState, name: str) -> UserAttr | None:
    entry = state.ctx.passwd().get(name)
    if entry is None:
        return None
    return UserAttr(entry.uid, entry.gid, entry.home, entry.name, entry.shell)


def _os_dsn(exc: OSError) -> str:
    if exc.errno in (errno.EAGAIN, errno.ESTALE):
        return "4.2.0"
    if exc.errno == errno.ENOSPC:
        return "4.3.1"
    if exc.errno in (errno.EFBIG, errno.EDQUOT):
        return "5.2.2"
    return "5.2.0"


async def _locked_append(state: LocalState, box: Mbox, data: bytes, sender: str) -> None:
    """Mbox.append with Postfix's lock retries (deliver_lock_attempts, deliver_lock_delay)."""
    attempts = max(1, state.cfg.get_int("deliver_lock_attempts"))
    delay = state.cfg.get_time("deliver_lock_delay")
    for attempt in range(attempts):
        try:
            box.append(data, quote_822_local(sender) if sender else "", state.ctx.now(),
                       fsync=state.ctx.fsync)
            return
        except MailboxLockedError:
            if attempt + 1 >= attempts:
                raise
            await state.ctx.sleep(delay)


def _stat(path: Any) -> os.stat_result | None:
    """os.stat(), or None where Path.exists() says False (one system call for three tests)."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno in _NOT_THERE:
            return None
        raise


async def _append_mbox(state: LocalState, attr: Attr, path: str, delivered: bool) -> tuple[str, str] | None:
    """Append to an mbox file; None on success, else (dsn, reason)."""
    real = state.ctx.path(path)
    data = copy_headers(state, attr, delivered=delivered) + state.content
    limit = state.cfg.get_int("mailbox_size_limit")
    try:
        st = _stat(real)
        if st is None and not real.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        if st is not None and not stat.S_ISREG(st.st_mode):
            return "5.2.0", f"destination {path} is not a regular file"
        size = st.st_size if st is not None else 0
        if limit > 0 and size + len(data) + 100 > limit:
            raise OSError(errno.EFBIG, "File too large")
        await _locked_append(state, Mbox(real), data, attr.sender)
    except MailboxLockedError as exc:
        return "4.2.0", f"unable to lock for exclusive access: {exc}"
    except FileNotFoundError as exc:
        return "5.2.0", f"cannot open file: {exc.strerror}"
    except OSError as exc:
        return _os_dsn(exc), f"error writing message: {exc.strerror}"
    except MailboxError as exc:
        return "4.2.0", str(exc)
    return None


async def deliver_maildir(state: LocalState, attr: Attr, usr: UserAttr, path: str) -> int:
    if state.verify_only():
        return state.sent(attr, "2.0.0", "delivers to maildir")
    data = copy_headers(state, attr, delivered=True) + state.content
    box = Maildir(state.ctx.path(path.rstrip("/")), state.ctx.hostname,
                  counter=maildir_counter(state.ctx))
    try:
        box.append(data, attr.sender, state.ctx.now(), pid=state.pid, fsync=state.ctx.fsync)
    except (OSError, MailboxError) as exc:
        text = exc.strerror if isinstance(exc, OSError) else str(exc)
        dsn = _os_dsn(exc) if isinstance(exc, OSError) else "4.2.0"
        return state.fail(attr, dsn, f"create maildir file {path}: {text}")
    return state.sent(attr, "2.0.0", "delivered to maildir")


async def deliver_mailbox_file(state: LocalState, attr: Attr, usr: UserAttr) -> int:
    if state.verify_only():
        return state.sent(attr, "2.0.0", "delivers to mailbox")
    cfg = state.cfg
    if cfg["home_mailbox"]:
        mailbox = f"{usr.home}/{cfg['home_mailbox']}"
    else:
        mailbox = f"{cfg['mail_spool_directory'].rstrip('/')}/{attr.user}"
    err = await _append_mbox(state, attr, mailbox, delivered=True)
    if err is None:
        return state.sent(attr, "2.0.0", "delivered to mailbox")
    return state.fail(attr, err[0], f"cannot update mailbox {mailbox} for user {attr.user}. {err[1]}")


async def deliver_file(state: LocalState, attr: Attr, usr: UserAttr, path: str) -> int:
    if state.been_here(f"file {usr.uid} {path}"):
        return 0
    if (mask(state.ctx, "allow_mail_to_files") & attr.exp_type) == 0:
        return state.bounce(attr, "5.7.1", "mail to file is restricted")
    if state.verify_only():
        return state.sent(attr, "2.0.0", f"delivers to file: {path}")
    if path.endswith("/"):
        return await deliver_maildir(state, attr, usr, path)
    real = state.ctx.path(path)
    if real.is_file() and real.stat().st_mode & 0o111:
        return state.bounce(attr, "5.7.1", f"cannot append message to file {path}: file is executable")
    err = await _append_mbox(state, attr, path, delivered=_hdr_flag(state, "file"))
    if err is None:
        return state.sent(attr, "2.0.0", f"delivered to file: {path}")
    return state.fail(attr, err[0], f"cannot append message to file {path}: {err[1]}")


def _command_env(state: LocalState, attr: Attr, usr: UserAttr) -> dict[str, str]:
    """The environment of a command (local/command.c), censored by command_expansion_filter."""
    cfg = state.cfg
    allowed = set(cfg["command_expansion_filter"])

    def clean(value: str) -> str:
        return "".join(c if c in allowed else "_" for c in value)

    env = {"TZ": "UTC", "LANG": "C"}
    for name in cfg.get_list("export_environment"):
        if "=" in name:
            k, _, v = name.partition("=")
            env[k] = v
    mine: dict[str, str] = {}
    if usr.home:
        mine["HOME"] = usr.home
    mine.update({"LOGNAME": attr.user, "USER": attr.user, "SENDER": attr.sender,
                 "RECIPIENT": attr.rcpt.address, "LOCAL": attr.local})
    if usr.shell:
        mine["SHELL"] = usr.shell
    if attr.domain is not None:
        mine["DOMAIN"] = attr.domain
    if attr.extension:
        mine["EXTENSION"] = attr.extension
    if attr.rcpt.orig:
        mine["ORIGINAL_RECIPIENT"] = attr.rcpt.orig
    a = state.req.attrs
    for key, name in (("CLIENT_HOSTNAME", "client_name"), ("CLIENT_ADDRESS", "client_address"),
                      ("CLIENT_HELO", "helo_name"), ("CLIENT_PROTOCOL", "protocol_name"),
                      ("SASL_METHOD", "sasl_method"), ("SASL_SENDER", "sasl_sender"),
                      ("SASL_USERNAME", "sasl_username")):
        if a.get(name):
            mine[key] = a[name]
    env.update({k: clean(v) for k, v in mine.items()})
    return env


def command_argv(ctx: Any, cfg: Any, command: str) -> list[str]:
    """How pipe_command() starts a command: local_command_shell, else exec_command().

    exec_command() runs a command that has only "safe" characters directly
    (split at blanks; a bare name is searched in /bin:/usr/bin, execvp's
    default path, and handed to the shell when it is not there), anything
    else as ``/bin/sh -c COMMAND``.
    """
    shell = cfg["local_command_shell"]
    if shell:
        return shell.split() + [command]
    words = command.split()
    if words and all(c in _EXEC_OK for c in command):
        if "/" in words[0]:
            return words
        for d in ("/bin", "/usr/bin"):
            if find_command(ctx.root, f"{d}/{words[0]}") is not None or \
                    (is_real(ctx) and os.access(f"{d}/{words[0]}", os.X_OK)):
                return [f"{d}/{words[0]}"] + words[1:]
    return ["/bin/sh", "-c", command]


async def deliver_command(state: LocalState, attr: Attr, usr: UserAttr, command: str) -> int:
    from ..commands_registry import run_command
    from ..pipe.agent import judge
    if state.been_here(f"command {usr.uid} {command}"):
        return 0
    if state.verify_only():
        return state.sent(attr, "2.0.0", f"delivers to command: {command}")
    cfg = state.cfg
    if usr.uid == 0:
        # never as root: default_privs' uid and gid only (no HOME/SHELL of that account in the environment)
        default = _user(state, cfg["default_privs"])
        usr = replace(usr, uid=default.uid, gid=default.gid) if default is not None else replace(usr, uid=65534, gid=65534)
    argv = command_argv(state.ctx, cfg, command)
    stdin = bytearray(f"From {quote_822_local(attr.sender) if attr.sender else 'MAILER-DAEMON'}"
                      f"  {_asctime(state.ctx.now())}\n".encode())
    stdin += copy_headers(state, attr, delivered=_hdr_flag(state, "command")) + state.content
    name = usr.logname or cfg["default_privs"]
    result = await run_command(state.ctx, argv, stdin=bytes(stdin), user=name, uid=usr.uid,
                               gid=usr.gid, env=_command_env(state, attr, usr),
                               cwd=cfg["command_execution_directory"] or usr.home or "/",
                               time_limit=cfg.get_time("command_time_limit"), program="local")
    if result.crash:
        state.warn(result.crash)
    outcome = judge(result, state.relay, command)
    if outcome.status == "sent":
        return state.sent(attr, "2.0.0", f"delivered to command: {command}")
    return state.fail(attr, outcome.dsn, outcome.reason)


def _asctime(when: float) -> str:
    from ...store.mbox import asctime
    return asctime(when)


async def deliver_pass(state: LocalState, attr: Attr, transport: str) -> int:
    """Hand the recipient to another master.cf transport (mailbox_transport, fallback_transport)."""
    from ..qmgr.agents import agent_for, transport_service
    from ..qmgr.request import record_status
    name, _, nexthop = transport.partition(":")
    svc = transport_service(state.cfg.services, name)
    deliver = agent_for(svc.command) if svc is not None else None
    if svc is None or deliver is None:
        state.warn(f"connect to transport private/{name}: No such file or directory")
        return state.defer(attr, "4.3.0", "mail transport unavailable")
    req = replace(state.req, recipients=(attr.rcpt,), transport=name,
                  nexthop=nexthop or state.req.nexthop, agent_handoff=state.ctx.now())
    statuses = await deliver(state.ctx, svc, req)
    for st in statuses:
        record_status(state.ctx, state.req.qid, st, state.req.trace_flags)
        state.outcomes.append(st.status)
        state.last = (st.dsn, st.reason)
    return -1 if any(st.status == "deferred" for st in statuses) else 0


async def deliver_mailbox(state: LocalState, attr: Attr, usr: UserAttr) -> tuple[bool, int]:
    """(found, status): found is False when the user does not exist."""
    if state.been_here(f"mailbox {attr.local}"):
        return True, 0
    cfg = state.cfg
    try:
        if cfg["mailbox_transport_maps"].strip():
            got = maps_find(state.ctx.maps("mailbox_transport_maps"), attr.user)
            if got is not None:
                return True, await deliver_pass(state, attr, got)
    except MapError:
        return True, state.defer(attr, "4.3.0", "table lookup failure")
    if cfg["mailbox_transport"]:
        return True, await deliver_pass(state, attr, cfg["mailbox_transport"])
    user = _user(state, attr.user)
    if user is None:
        return False, 0
    try:
        command = (maps_find(state.ctx.maps("mailbox_command_maps"), attr.user)
                   if cfg["mailbox_command_maps"].strip() else None)
    except MapError:
        return True, state.defer(attr, "4.3.0", "table lookup failure")
    if command is None and cfg["mailbox_command"]:
        command = cfg["mailbox_command"]        # not $name-expanded: shell syntax (postconf(5))
    if command is not None:
        return True, await deliver_command(state, attr, user, command)
    home_mailbox = cfg["home_mailbox"]
    if home_mailbox.endswith("/"):
        return True, await deliver_maildir(state, attr, user, f"{user.home}/{home_mailbox}")
    spool = cfg["mail_spool_directory"]
    if spool.endswith("/"):
        return True, await deliver_maildir(state, attr, user, f"{spool}{attr.user}/")
    return True, await deliver_mailbox_file(state, attr, user)
