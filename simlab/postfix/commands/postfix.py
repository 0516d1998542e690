"""NAME
    postfix - Postfix control program

SUMMARY
    postfix [--root ROOT] [-v] [-c config_dir] check | start | stop | reload | status | flush

DESCRIPTION
    Messages come from ``postfix/postfix-script`` on stderr and in the
    maillog, as with Postfix:

    check    configuration warnings about main.cf and master.cf as saved
             on disk (not the running instance's settings, which change
             only with reload): a myhostname that is not fully
             qualified, a domain listed in BOTH of two address-class
             parameters (mydestination, virtual_alias_domains,
             virtual_mailbox_domains, relay_domains), a hash:/btree: table
             whose .db is older than its source (or missing), and a
             postmaster that is neither an alias nor an account (RFC 2142).
    start    check, then start the mail system ("starting the Postfix mail
             system"); "fatal: the Postfix mail system is already running".
    stop     "stopping the Postfix mail system".
    reload   "refreshing the Postfix mail system"; master re-reads main.cf
             and master.cf without losing mail or sessions.
    status   "the Postfix mail system is running: PID: N", or "... is not
             running" with exit status 1.
    flush    postqueue -f.

    Inside a simulation (``PostfixSystem.command("postfix", ...)``) these act
    on the simulated instance. With ``--root`` they act on the ``simlab
    serve`` of that root: start launches it in the background, stop and
    reload signal the pid in var/spool/postfix/pid/master.pid (SIGTERM,
    SIGHUP).

PARAMETERS
    myhostname, mydestination, virtual_alias_domains, virtual_mailbox_domains,
    relay_domains, alias_maps, and the *_maps parameters that name tables.

SEE ALSO
    postfix(1), master(8), postqueue(1)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Any

from .cmdutil import Command

USAGE = "usage: postfix [-c config_dir] [-Dv] command"
SCRIPT = "postfix-script"
DOMAIN_PARAMS = ("mydestination", "virtual_alias_domains", "virtual_mailbox_domains", "relay_domains")
_TABLE = re.compile(r"\b(hash|btree):(/[^\s,]+)")


class Script:
    """postfix-script: its messages go to stderr and to the maillog."""

    def __init__(self, cmd: Command) -> None:
        self.cmd = cmd
        self._pid: int | None = None

    @property
    def pid(self) -> int:
        if self._pid is None:
            self._pid = self.cmd.pid
        return self._pid

    def say(self, text: str) -> None:
        self.cmd.stderr.write(f"postfix/{SCRIPT}: {text}\n")
        try:
            self.cmd.ctx.log.line(SCRIPT, self.pid, text)
        except Exception:
            pass

    def echo(self, text: str) -> None:
        """stderr only: the live instance logs the line itself."""
        self.cmd.stderr.write(f"postfix/{SCRIPT}: {text}\n")

    def warn(self, text: str) -> None:
        self.say("warning: " + text)

    def fatal(self, text: str) -> None:
        self.say("fatal: " + text)


# -- check --------------------------------------------------------------------------------
def _domains(ctx: Any, param: str) -> list[str]:
    out: list[str] = []
    for item in ctx.config.get_list(param):
        if ":" in item and not item.startswith("["):
            try:
                m = ctx.map(item)
                out += [k.lower() for k, _ in m.items()]
            except Exception:
                continue
        else:
            out.append(item.lower().rstrip("."))
    return out


def check_warnings(ctx: Any) -> list[str]:
    """The configuration problems ``postfix check`` reports, as warning texts."""
    cfg = ctx.config
    warnings: list[str] = []
    host = cfg["myhostname"]
    if "." not in host.strip("."):
        warnings.append(f"My hostname {host} is not a fully qualified name - "
                        f"set myhostname or mydomain in {cfg['config_directory']}/main.cf")
    lists = {p: _domains(ctx, p) for p in DOMAIN_PARAMS}
    for i, a in enumerate(DOMAIN_PARAMS):
        for b in DOMAIN_PARAMS[i + 1:]:
            for d in lists[a]:
                if d in lists[b] and not d.startswith("."):
                    warnings.append(f"do not list domain {d} in BOTH {a} and {b}")
    seen: set[str] = set()
    for name in sorted(cfg.settings()):
        for kind, path in _TABLE.findall(str(cfg[name])):
            spec = f"{kind}:{path}"
            if spec in seen:
                continue
            seen.add(spec)
            warnings += _table_warnings(ctx, spec)
    if not _postmaster_ok(ctx):
        warnings.append("postmaster is neither an alias nor a local account: "
                        "mail to postmaster will bounce (RFC 2142 requires it)")
    return warnings


def _table_warnings(ctx: Any, spec: str) -> list[str]:
    from ..common.tables import stale_database
    from ..maps import open_map
    try:
        m = open_map(spec, root=ctx.root)
        close = getattr(m, "close", None)
        if close:
            close()
    except Exception as e:  # MapError: Postfix's own text ("open database ...: No such file ...")
        return [str(e)]
    stale = stale_database(ctx, spec)      # file times and now on the instance's clock
    return [stale] if stale else []


def _postmaster_ok(ctx: Any) -> bool:
    if "postmaster" in ctx.passwd():
        return True
    for spec in ctx.config.get_list("alias_maps"):
        try:
            if ctx.map(spec).lookup("postmaster") is not None:
                return True
        except Exception:
            continue
    return False


# -- control ------------------------------------------------------------------------------
def _live_system(cmd: Command) -> Any:
    from ..master.registry import system_for
    return system_for(cmd._ctx) if cmd._ctx is not None else None


def _schedule(system: Any, coro: Any) -> None:
    """Run ``coro`` on the instance's loop: now if it runs, else on the next ``net.run()``."""
    import asyncio
    loop = getattr(getattr(system, "master", None), "loop", None) or getattr(system, "loop", None)
    if loop is None:
        loop = asyncio.get_event_loop()
    loop.create_task(coro)


def _running_pid(cmd: Command) -> int | None:
    from ..master import find_master, master_pid
    m = find_master(cmd.ctx, cmd.root)
    if m is not None:
        return m.pid
    return master_pid(cmd.ctx)


def main(argv: list[str], *, ctx: Any = None, stdin: Any = None, stdout: Any = None,
         stderr: Any = None) -> int:
    cmd = Command("postfix", argv, ctx=ctx, stdin=stdin, stdout=stdout, stderr=stderr)

    def body() -> int:
        opts, args = cmd.getopt("c:Dv", USAGE)
        if not args:
            cmd.fatal(f"{USAGE}\n", 1)
        action = args[0]
        script = Script(cmd)
        saved = _validate(cmd) if action in ("start", "reload", "check") else None
        if action == "check":
            for w in check_warnings(saved):
                script.warn(w)
            return 0
        if action == "status":
            pid = _running_pid(cmd)
            if pid is None:
                script.say("the Postfix mail system is not running")
                return 1
            script.say(f"the Postfix mail system is running: PID: {pid}")
            return 0
        if action == "flush":
            from . import postqueue
            return postqueue.main((["--root", cmd.root] if cmd.root else []) + ["-f"], ctx=cmd._ctx,
                                  stdin=cmd.stdin, stdout=cmd.stdout, stderr=cmd.stderr)
        if action == "start":
            if _running_pid(cmd) is not None:
                script.fatal("the Postfix mail system is already running")
                return 1
            for w in check_warnings(saved):
                script.warn(w)
            return _start(cmd, script)
        if action in ("stop", "reload", "abort"):
            pid = _running_pid(cmd)
            if pid is None:
                script.fatal("the Postfix mail system is not running")
                return 1
            return _signal(cmd, script, action, pid)
        cmd.fatal(f"unknown command: '{action}'. Usage: postfix start (or stop, reload, abort, "
                  "flush, check, status, set-permissions, upgrade-configuration)", 1)
        return 1

    return cmd.run(body)


def _validate(cmd: Command) -> Any:
    """Read main.cf and master.cf afresh: a fatal error stops the command, as postfix(1) does.

    Returns the instance as the files on disk describe it (what ``postfix check``, a
    separate process, looks at): the running instance's context with that main.cf.
    """
    import dataclasses

    from ..config import ConfigError, load_config, read_master_cf
    cfg = cmd.ctx.config
    try:
        saved = load_config(cfg.config_dir, facts=cfg.facts, display_dir=cfg["config_directory"] or None)
        read_master_cf(cfg.config_dir, display_dir=cfg["config_directory"] or None)
    except ConfigError as e:
        cmd.fatal(str(e), 1)
    return dataclasses.replace(cmd.ctx, config=saved)


def _start(cmd: Command, script: Script) -> int:
    system = _live_system(cmd)
    if system is not None:
        script.echo("starting the Postfix mail system")
        _schedule(system, system.start())
        return 0
    root = str(cmd.ctx.root)
    script.say("starting the Postfix mail system")
    subprocess.Popen([sys.executable, "-m", "simlab", "serve", "--root", root],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    return 0


def _signal(cmd: Command, script: Script, action: str, pid: int) -> int:
    system = _live_system(cmd)
    if system is not None:
        script.echo("refreshing the Postfix mail system" if action == "reload" else "stopping the Postfix mail system")
        _schedule(system, system.stop() if action != "reload" else system.reload())
        return 0
    if action == "reload":
        script.say("refreshing the Postfix mail system")
        os.kill(pid, signal.SIGHUP)
    else:
        script.say("stopping the Postfix mail system" if action == "stop" else "aborting the Postfix mail system")
        os.kill(pid, signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
