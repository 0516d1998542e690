"""NAME
    labtools - what the chapter notebooks type on a simulated host: commands, files, a timeline

SUMMARY
    shell(mail, "postconf -n")                    # prints "mail.example.com# postconf -n" and the output
    shell(mail, "tail -n 5 /var/log/mail.log")    # cat [-n], ls, tail [-n N], grep WORD read files under the root
    add_line(mail, "/etc/aliases", "info: bob")   # what an editor would do, said in words
    print(file_diff(before, after, "/etc/postfix/main.cf"))
    print(tree(mail, "/var/spool/postfix", depth=1))
    print(master_table(mail))                     # master.cf as a table with its column names
    telnet(pc, "mail.example.com", 25, ["EHLO pc.example.com", "QUIT"])   # both sides printed
    process_timeline(net.trace, host="mail.example.com")   # daemons started and exited, in virtual time
    saved_config(mail)["home_mailbox"]            # main.cf on disk (what a reload would load)
    table_lookup(mail, "hash:/etc/aliases", "postmaster"); deliveries(trace, mail, orig_to="info@...")

DESCRIPTION
    ``shell`` plays an administrator at the host's root prompt. Postfix's
    administration commands run against the host's live instance
    (``PostfixSystem.command``), except postconf, postmap and postalias,
    which run as separate programs with ``--root`` (the command contract of
    simlab): paths in their arguments then resolve under the host root and
    the configuration directory shows as /etc/postfix, as on the machine
    itself. postconf gets the host's own machine facts, so that ``postconf
    -d myhostname`` names this host. A few read-only shell tools (cat, ls,
    tail, grep) read files under the host root. Nothing here decides an
    outcome: every line printed comes from the simulated programs or files.

    ``process_timeline`` draws master(8)'s ``process`` trace events: one bar
    per daemon process from its start to its exit (or to the end of the
    trace), labelled with its program and process id; vertical marks show
    when a message arrived (smtpd's or pickup's first log line for a queue id).

SEE ALSO
    postconf(1), postfix(1), master(8), simlab.postfix.system
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import io
import shlex
from dataclasses import dataclass
from typing import Any

ROOT_TOOLS = ("postconf", "postmap", "postalias")
FILE_TOOLS = ("cat", "ls", "tail", "grep")


@dataclass(frozen=True)
class ShellResult:
    """What a command printed, and its exit status (already shown by ``shell``)."""

    rc: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return self.stdout + self.stderr

    def _ipython_display_(self) -> None:  # the output was printed already
        return None


def run_command(host: Any, line: str, stdin: str = "") -> ShellResult:
    """Run one command line on ``host`` without printing (see the module description)."""
    argv = shlex.split(line)
    if not argv:
        return ShellResult(0, "", "")
    prog, args = argv[0].rsplit("/", 1)[-1], argv[1:]
    if prog in FILE_TOOLS:
        return _file_tool(host, prog, args)
    if prog in ROOT_TOOLS:
        return _root_tool(host, prog, args)
    try:
        got = host.postfix.command(prog, *args, stdin=stdin)
    except ValueError:
        return ShellResult(127, "", f"-bash: {prog}: command not found\n")
    return ShellResult(got.rc, got.stdout, got.stderr)


def shell(host: Any, line: str, stdin: str = "", *, quiet: bool = False) -> ShellResult:
    """Run ``line`` as root on ``host`` and print the prompt, the output and a non-zero exit status."""
    result = run_command(host, line, stdin)
    if not quiet:
        text = f"{host.name}# {line}\n{result.stdout}{result.stderr}"
        if result.rc:
            text += f"(exit status {result.rc})\n"
        print(text, end="")
    return result


def host_facts(host: Any) -> Any:
    """The machine facts Postfix derives defaults from (those of the running instance, if any)."""
    from ..postfix.config import HostFacts
    pf = host.services.get("postfix")
    if pf is not None:
        return pf.ctx.config.facts
    return HostFacts(hostname=host.name, interfaces=("127.0.0.1/8", f"{host.ip}/24", "::1/128"))


def _root_tool(host: Any, prog: str, args: list[str]) -> ShellResult:
    import importlib
    module = importlib.import_module(f"simlab.postfix.commands.{prog}")
    out, err = io.StringIO(), io.StringIO()
    argv = ["--root", str(host.root)] + args
    if prog == "postconf":
        facts = host_facts(host)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = module.main(argv, facts=facts)
    else:
        rc = module.main(argv, stdout=out, stderr=err)
    return ShellResult(int(rc or 0), out.getvalue(), err.getvalue())


def _file_tool(host: Any, prog: str, args: list[str]) -> ShellResult:
    lines = 10
    if prog == "tail" and len(args) >= 2 and args[0] == "-n":
        lines, args = int(args[1]), args[2:]
    pattern = ""
    if prog == "grep":
        if not args:
            return ShellResult(2, "", "Usage: grep PATTERN FILE...\n")
        pattern, args = args[0], args[1:]
    out, err, rc = [], [], 0
    options = [a for a in args if a.startswith("-") and len(a) > 1]
    args = [a for a in args if a not in options]
    for name in args or ["/"]:
        path = host.path(name)
        if prog == "ls":
            if path.is_dir():
                out += [p.name + ("/" if p.is_dir() else "") for p in sorted(path.iterdir())]
            elif path.exists():
                out.append(name)
            else:
                err.append(f"ls: cannot access '{name}': No such file or directory")
                rc = 2
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except IsADirectoryError:
            err.append(f"{prog}: {name}: Is a directory")
            rc = 1
            continue
        except OSError:
            err.append(f"{prog}: {name}: No such file or directory")
            rc = 1 if prog != "grep" else 2
            continue
        rows = text.splitlines()
        if prog == "cat" and "-n" in options:
            rows = [f"{n:6d}\t{r}" for n, r in enumerate(rows, 1)]
        if prog == "tail":
            rows = rows[-lines:] if lines else []
        elif prog == "grep":
            rows = [r for r in rows if pattern in r]
            rc = rc or (0 if rows else 1)
        out += rows
    return ShellResult(rc, "".join(r + "\n" for r in out), "".join(e + "\n" for e in err))


def telnet(client: Any, server: str, port: int, lines: list[str]) -> None:
    """Type ``lines`` into a telnet session from ``client`` to ``server:port``, printing both sides."""
    import sys

    from ..scenarios.show import typed_session
    try:
        client.net.run_sync(typed_session(client, server, port, lines, sys.stdout, shown_name=server))
    except ConnectionRefusedError:
        print("telnet: Unable to connect to remote host: Connection refused")
    except TimeoutError:
        print("telnet: Unable to connect to remote host: Connection timed out")


def add_line(host: Any, unix_path: str, line: str) -> None:
    """Append one line to a file of the host, and say so."""
    path = host.path(unix_path)
    text = path.read_text() if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line.rstrip("\n") + "\n")
    print(f"added to {unix_path}: {line.rstrip()}")


def file_diff(before: str, after: str, name: str) -> str:
    """A unified diff of two versions of a file ('(no change)' when equal)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), f"{name} (before)",
                                f"{name} (after)", lineterm="", n=1)
    text = "\n".join(diff)
    return text or f"{name}: (no change)"


def tree(host: Any, unix_path: str = "/", depth: int = 2, skip: tuple[str, ...] = ("*.pyc",)) -> str:
    """The folders and files under ``unix_path`` of the host, indented, ``depth`` levels deep."""
    top = host.path(unix_path)
    lines = [unix_path.rstrip("/") or "/"]

    def walk(folder: Any, prefix: str, level: int) -> None:
        entries = [p for p in sorted(folder.iterdir()) if not any(fnmatch.fnmatch(p.name, s) for s in skip)]
        for i, p in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{p.name}{'/' if p.is_dir() else ''}")
            if p.is_dir() and level < depth:
                walk(p, prefix + ("    " if last else "│   "), level + 1)

    if top.is_dir():
        walk(top, "", 1)
    return "\n".join(lines)


def saved_config(host: Any) -> Any:
    """main.cf as it is on disk now: what the next ``postfix reload`` will load (None if broken)."""
    from ..postfix.config import ConfigError, load_config
    try:
        return load_config(host.path("/etc/postfix"), facts=host_facts(host),
                           display_dir="/etc/postfix")
    except ConfigError:
        return None


def table_lookup(host: Any, spec: str, key: str) -> str | None:
    """Look ``key`` up in table ``spec`` as a freshly started daemon would (None: not found or no table)."""
    from ..postfix.maps import MapError, open_map
    try:
        return open_map(spec, root=host.root).lookup(key)
    except (MapError, OSError):
        return None


def deliveries(trace: Any, host: Any, *, orig_to: str | None = None, to: str | None = None) -> list[Any]:
    """The delivery agents' ``delivery`` events on ``host`` (filtered by orig_to / to, case-insensitive)."""
    name = getattr(host, "name", host)
    out = []
    for ev in trace.events("delivery", host=name):
        d = ev.details
        if orig_to is not None and str(d.get("orig_to", d.get("to", ""))).lower() != orig_to.lower():
            continue
        if to is not None and str(d.get("to", "")).lower() != to.lower():
            continue
        out.append(ev)
    return out


def refusals(trace: Any, host: Any, address: str) -> list[str]:
    """smtpd's ``reject: RCPT`` log lines on ``host`` about ``address`` (the reply text of each)."""
    name = getattr(host, "name", host)
    want = f"to=<{address.lower()}>"
    out = []
    for line in trace.maillog(name):
        if "reject: RCPT" in line and want in line.lower():
            reply = line.split("]: ", 2)[-1].split("; from=<", 1)[0]
            out.append(reply)
    return out


MASTER_COLUMNS = ("service", "type", "private", "unpriv", "chroot", "wakeup", "maxproc", "command + args")


def master_rows(host: Any) -> list[tuple[str, ...]]:
    """master.cf as master(8) reads it: one tuple of the eight columns per service."""
    from ..postfix.config import read_master_cf
    rows = []
    for s in read_master_cf(host.path("/etc/postfix")):
        cmd = " ".join([s.command] + [f"-o {k}={v}" for k, v in s.overrides.items()] + list(s.args))
        rows.append((s.name, s.type, "y" if s.private else "n", "y" if s.unpriv else "n",
                     "y" if s.chroot else "n", f"{s.wakeup}{'?' if s.wakeup_if_used else ''}",
                     "-" if s.maxproc is None else str(s.maxproc), cmd))
    return rows


def master_table(host: Any, width: int = 60) -> str:
    """master.cf's services as a text table with the column names of master(5)."""
    rows = [tuple(r[:-1]) + (r[-1] if len(r[-1]) <= width else r[-1][:width - 1] + "…",)
            for r in master_rows(host)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(MASTER_COLUMNS)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*MASTER_COLUMNS).rstrip(), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*r).rstrip() for r in rows]
    return "\n".join(out)


def process_timeline(trace: Any, host: str, title: str | None = None, *, end: float | None = None) -> Any:
    """master's daemon processes of ``host`` as bars over virtual time, with message arrivals."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ..viz._style import BLUE, GREY, ORANGE, SimFigure, VERMILLION, finish
    from ..viz.tracedata import log_records
    bars: dict[int, list[Any]] = {}
    last = 0.0
    for ev in trace:
        last = max(last, ev.time)
        if ev.kind != "process" or ev.host != host or ev.details.get("service") == "master":
            continue
        d = ev.details
        if d.get("event") == "start":
            bars[d["pid"]] = [ev.component, d["pid"], ev.time, None, ""]
        elif d.get("event") in ("exit", "crash") and d.get("pid") in bars:
            bars[d["pid"]][3], bars[d["pid"]][4] = ev.time, str(d.get("reason", d.get("event")))
    stop = max(end if end is not None else last, 1.0)
    arrivals: dict[str, float] = {}
    for rec in log_records(trace, host=host):
        if rec.qid and rec.program in ("smtpd", "pickup") and rec.qid not in arrivals:
            arrivals[rec.qid] = rec.time
    rows = sorted(bars.values(), key=lambda b: (b[2], b[1]))
    fig = SimFigure(figsize=(10, 1.4 + 0.42 * max(1, len(rows))), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for y, (prog, pid, t0, t1, why) in enumerate(rows):
        t_end = stop if t1 is None else t1
        colour = BLUE if t1 is None else ORANGE
        ax.barh(y, max(t_end - t0, stop * 0.004), left=t0, height=0.6, color=colour, alpha=0.8,
                gid=f"proc-{pid}")
        note = "still running" if t1 is None else f"exited ({why})"
        ax.text(t_end + stop * 0.01, y, note, va="center", fontsize=8, color=GREY)
    for qid, t in arrivals.items():
        ax.axvline(t, color=VERMILLION, lw=1, ls="--", alpha=0.8)
    ax.set_yticks(range(len(rows)), [f"{prog} (pid {pid})" for prog, pid, *_ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, stop * 1.18)
    ax.set_xlabel("virtual time (seconds since the network was built)")
    ax.set_ylabel("daemon process")
    ax.grid(True, axis="x", alpha=0.3)
    height = fig.get_figheight()
    fig.legend(handles=[Patch(color=ORANGE, alpha=0.8, label="a process that exited"),
                        Patch(color=BLUE, alpha=0.8, label="a process still running"),
                        Line2D([], [], color=VERMILLION, ls="--", label="a message arrives")],
               loc="upper center", bbox_to_anchor=(0.55, 1 - 0.45 / height), ncol=3, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.55 / height, top=1 - 0.75 / height)
    finish(fig, title or f"Postfix daemon processes on {host}: started on demand, gone when idle")
    return fig


__all__ = ["FILE_TOOLS", "MASTER_COLUMNS", "ROOT_TOOLS", "ShellResult", "add_line", "deliveries", "file_diff",
           "host_facts", "master_rows", "master_table", "process_timeline", "refusals", "run_command",
           "saved_config", "shell", "table_lookup", "telnet", "tree"]
