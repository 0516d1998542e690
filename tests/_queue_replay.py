"""NAME
    _queue_replay - replay captured queue-tool steps (real Postfix 3.7.11) against simlab

SUMMARY
    rp = Replay(main_cf_extra)                # the lab host on the virtual network, Postfix started
    got = rp.step(step)                        # same shape as the captured step
    assert normalize_step(got, rp.labels["sim"], "101") == normalize_step(step, rp.labels["ref"], "102")

DESCRIPTION
    tests/data/queue/measured_steps.json holds steps captured from a second
    real Postfix instance built from the lab's files (see its "setup" entry).
    A step is: optional SMTP submissions ({"from", "to", "data"}: EHLO
    client.example, MAIL, RCPT..., DATA on port 25), shell command lines, and
    what followed: every command's rc/stdout/stderr, the new maillog lines and
    the bytes appended to mailboxes.

    The command lines use a small shell subset, run here with simlab's
    programs: ``A | B | C`` pipes, ``> FILE``, single/double quotes, and the programs
    mailq, postqueue, postsuper, postcat, sendmail, postconf, postfix
    (through PostfixSystem.command), sleep N (virtual time), printf FORMAT
    ARGS, python3 -c "print(...)" (only prints of string expressions), find
    DIR... -type f, sort, head -N, grep -c STRING, sed 's|A|B|'.

    Queue ids differ by nature. Each side's ids are numbered in the order
    they first appear (maillog lines, command output); the captured
    commands name real ids, which are translated to simlab's before running.
    Everything time-dependent is masked on both sides (time stamps, dates,
    epoch seconds, delay= figures, pids, client ports).
"""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path
from typing import Any

from postfix_lab import lab_root
from simlab import Network

_B52 = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"
QID = re.compile(rf"\b(?:[0-9A-F]{{10,12}}|[0-9B-DF-HJ-NP-TV-Z]{{8,}}|{_B52}{{10,}}z{_B52}+)\b")
_ID_DEF = re.compile(rf"(?:\]: |notification: |forwarded as |queued as |orig_id=|id |\*\*\* [A-Z ]+ \S*/)"
                     rf"((?:[0-9A-F]{{10,12}}|{_B52}{{10,}}z{_B52}+))\b")
_CHILD = re.compile(r"\]: (\w+): (?:sender|postmaster) [\w -]*notification: (\w+)")
POSTFIX_CMDS = ("mailq", "postqueue", "postsuper", "postcat", "sendmail", "postconf", "postfix", "postmap")


def lab_host(main_cf_extra: str, seed: int = 1) -> tuple[Network, Any]:
    from simlab.scenarios.lab import register_lab_programs
    net = Network(seed=seed)
    host = net.host("mail.example.com", ip="10.0.0.25")
    lab_root(host.root)
    main_cf = Path(host.root) / "etc/postfix/main.cf"
    text = main_cf.read_text()
    for line in main_cf_extra.splitlines():     # in place, as postconf -e (no duplicate entries)
        name = line.split("=", 1)[0].strip()
        text, n = re.subn(rf"(?m)^{re.escape(name)}\s*=.*$", line, text)
        text += "" if n else line + "\n"
    main_cf.write_text(text)
    register_lab_programs(host)
    host.start_postfix()
    return net, host


class Replay:
    """The lab host, and the ids met so far on both sides, paired in order of appearance."""

    def __init__(self, main_cf_extra: str = "", seed: int = 1) -> None:
        self.net, self.host = lab_host(main_cf_extra, seed)
        self.pf = self.host.postfix
        self.labels: dict[str, dict[str, str]] = {"ref": {}, "sim": {}}
        self._pending: dict[str, list[str]] = {"ref": [], "sim": []}
        self._parent: dict[str, dict[str, str]] = {"ref": {}, "sim": {}}   # notification -> its message
        self._count = 0

    # -- ids ------------------------------------------------------------------------------
    def learn(self, side: str, texts: list[str]) -> None:
        """Note the ids first seen in ``texts``; pair them with the other side's: a notification
        with the one made for the same message, the others in order of appearance."""
        for text in texts:
            for m in _CHILD.finditer(text):
                self._parent[side][m.group(2)] = m.group(1)
            for m in _ID_DEF.finditer(text):
                q = m.group(1)
                if q not in self.labels[side] and q not in self._pending[side]:
                    self._pending[side].append(q)
        ref, sim = self._pending["ref"], self._pending["sim"]
        for q in list(ref):
            label = self.labels["ref"].get(self._parent["ref"].get(q, ""))
            twin = next((x for x in sim if label and self.labels["sim"].get(self._parent["sim"].get(x, "")) == label),
                        None)
            if twin is not None:
                self._count += 1
                ref.remove(q)
                sim.remove(twin)
                self.labels["ref"][q] = self.labels["sim"][twin] = f"Q{self._count}"
        while ref and sim:
            self._count += 1
            self.labels["ref"][ref.pop(0)] = self.labels["sim"][sim.pop(0)] = f"Q{self._count}"

    def settle(self) -> None:
        """End of a step: ids one side had and the other had not get labels of their own."""
        for side in ("ref", "sim"):
            for q in self._pending[side]:
                self._count += 1
                self.labels[side][q] = f"Q{self._count}{side[0]}"
            self._pending[side] = []

    def to_sim(self, text: str) -> str:
        back = {label: q for q, label in self.labels["sim"].items()}

        def sub(m: re.Match[str]) -> str:
            label = self.labels["ref"].get(m.group(0))
            return back.get(label, m.group(0)) if label else m.group(0)
        text = QID.sub(sub, text)
        text = re.sub(r"(?<=-qI)\w+", lambda m: QID.sub(sub, f" {m.group(0)}")[1:], text)   # sendmail -qIID
        return _HASHED.sub(lambda m: _rehash(self.pf, m), text)

    # -- one step --------------------------------------------------------------------------
    def step(self, st: dict[str, Any]) -> dict[str, Any]:
        net = self.net
        log0 = len(self.pf.ctx.log.lines)
        before = self._snapshot()
        if st.get("listener"):
            self._listener(st["listener"]["action"], st["listener"]["port"])
            net.run(until=net.now + 0.2)
        for sub in st.get("smtp", []):
            rep = sub.get("repeat")
            data = sub["data"] + ((rep["line"] + "\n") * rep["count"] if rep else "")
            net.run_sync(_smtp(self.host, sub["from"], sub["to"], data, sub.get("mail_params", ""),
                               sub.get("rcpt_params", "")))
            net.run(until=net.now + 0.3)
        if st.get("smtp"):
            net.run(until=net.now + st.get("wait", 1.5))
        cmds = []
        ref_cmds = st["commands"]
        for i, c in enumerate(ref_cmds):
            # ids named by a command were seen in the capture's log before it ran
            self.learn("sim", self.pf.ctx.log.lines[log0:])
            rc, out, err = self.shell(self.to_sim(c["cmd"]))
            cmds.append({"cmd": c["cmd"], "rc": rc, "stdout": out, "stderr": err})
            self.learn("ref", [c["stdout"], c["stderr"]])
            self.learn("sim", [out, err])
            net.run(until=net.now + 0.2)
        net.run(until=net.now + st.get("wait", 1.5))
        log = list(self.pf.ctx.log.lines[log0:])
        self.learn("sim", log)
        self.learn("ref", st["mail_log"] or [])
        self.settle()
        after = self._snapshot()
        deliveries = []
        for path, data in sorted(after.items()):
            old = before.get(path, b"")
            if data != old:
                deliveries.append({"file": path, "kind": "appended", "offset": len(old),
                                   "content": data[len(old):].decode("utf-8", "surrogateescape")})
        # a capture without a maillog (postlogd was down) is compared without it
        return {"title": st["title"], "commands": cmds, "deliveries": deliveries,
                "mail_log": log if st["mail_log"] is not None else None}

    def _listener(self, action: str, port: int) -> None:
        """A listener on 127.0.0.1:port that accepts and never writes (stop: it closes them all)."""
        import asyncio
        if action == "start":
            self._silent: list[asyncio.Transport] = []
            silent = self._silent

            class Silent(asyncio.Protocol):
                def connection_made(self, transport: Any) -> None:
                    silent.append(transport)
            self.host.listen(port, Silent, component="silent", addr="127.0.0.1")
        else:
            self.host.unlisten(port, addr="127.0.0.1")
            for t in self._silent:
                t.close()

    def _snapshot(self) -> dict[str, bytes]:
        root = Path(self.host.root)
        return {str(p.relative_to(root)): p.read_bytes()
                for p in sorted((root / "var/mail").glob("*")) if p.is_file()}

    # -- the shell subset -------------------------------------------------------------------
    def shell(self, line: str) -> tuple[int, str, str]:
        stages = _split_pipe(line)
        data, err, rc = b"", "", 0
        target = None
        for stage in stages:
            words = shlex.split(stage)
            if len(words) > 2 and words[-2] == ">":
                words, target = words[:-2], words[-1]
            rc, out, e = self._program(words, data)
            data, err = out, err + e
        if target is not None:
            (Path(self.host.root) / target.lstrip("/")).write_bytes(data)
            data = b""
        return rc, data.decode("utf-8", "surrogateescape"), err

    def _program(self, argv: list[str], stdin: bytes) -> tuple[int, bytes, str]:
        name, args = argv[0], argv[1:]
        if name in POSTFIX_CMDS:
            r = self.pf.command(name, *args, stdin=stdin)
            if name == "postfix":
                self.net.run(until=self.net.now + 0.1)
            return r.rc, r.stdout.encode("utf-8", "surrogateescape"), r.stderr
        if name == "sleep":
            self.net.run(until=self.net.now + float(args[0]))
            return 0, b"", ""
        if name == "printf":
            return 0, _printf(args[0], args[1:]), ""
        if name == "python3" and args[0] == "-c":
            return 0, _python_prints(args[1]), ""
        if name == "find":
            return self._find(args)
        text = stdin.decode("utf-8", "surrogateescape")
        lines = text.splitlines(keepends=True)
        if name == "sort":
            return 0, "".join(sorted(lines)).encode(), ""
        if name == "head":
            return 0, "".join(lines[:int(args[0].lstrip("-"))]).encode(), ""
        if name == "grep" and args[0] == "-c":       # a fixed string, as the steps use it
            n = sum(1 for line in lines if args[1] in line)
            return (0 if n else 1), f"{n}\n".encode(), ""
        if name == "sed":
            m = re.fullmatch(r"s\|(.*)\|(.*)\|", args[0])
            assert m, args
            return 0, text.replace(m.group(1), m.group(2)).encode(), ""
        raise ValueError(f"unsupported program in a captured step: {argv}")

    def _find(self, args: list[str]) -> tuple[int, bytes, str]:
        root = Path(self.host.root)
        dirs = [a for a in args if a.startswith("/")]
        out, err, rc = [], "", 0
        for d in dirs:
            base = root / d.lstrip("/")
            if not base.is_dir():
                err += f"find: '{d}': No such file or directory\n"
                rc = 1
                continue
            out += ["/" + str(p.relative_to(root)) for p in sorted(base.rglob("*")) if p.is_file()]
        return rc, "".join(x + "\n" for x in out).encode(), err


def _split_pipe(line: str) -> list[str]:
    stages, cur, quote = [], "", ""
    for ch in line:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "|":
            stages.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return stages + [cur.strip()]


def _printf(fmt: str, args: list[str]) -> bytes:
    """printf(1) for %s and the escapes \\n, \\\\ and \\NNN (octal); the format repeats for extra args."""
    def expand(f: str, vals: list[str]) -> tuple[bytes, int]:
        out, used, i = bytearray(), 0, 0
        while i < len(f):
            ch = f[i]
            if ch == "\\":
                nxt = f[i + 1]
                if nxt == "n":
                    out += b"\n"
                    i += 2
                elif nxt in "01234567":
                    m = re.match(r"[0-7]{1,3}", f[i + 1:])
                    assert m
                    out.append(int(m.group(0), 8))
                    i += 1 + len(m.group(0))
                else:
                    out += nxt.encode()
                    i += 2
            elif ch == "%" and f[i + 1] == "s":
                out += (vals[used] if used < len(vals) else "").encode()
                used += 1
                i += 2
            else:
                out += ch.encode()
                i += 1
        return bytes(out), used
    out, rest = b"", list(args)
    while True:
        chunk, used = expand(fmt, rest)
        out += chunk
        rest = rest[used:]
        if not rest or not used:
            return out


def _python_prints(code: str) -> bytes:
    out = io.StringIO()
    for stmt in code.split(";"):
        m = re.fullmatch(r"\s*print\((.*)\)\s*", stmt)
        assert m, code
        expr = m.group(1)
        if expr:
            val = m.group(1)
            lit = re.fullmatch(r"'([^']*)'(?: \* (\d+))?", val)
            assert lit, val
            out.write(lit.group(1) * int(lit.group(2) or 1))
        out.write("\n")
    return out.getvalue().encode()


async def _smtp(host: Any, sender: str, rcpts: list[str], data: str, mail_params: str = "",
                rcpt_params: str = "") -> list[str]:
    reader, writer = await host.open_connection("127.0.0.1", 25, component="client")
    replies = []

    async def reply() -> None:
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            replies.append(line)
            if line[3:4] != "-":
                return
    await reply()
    mp, rp = (" " + mail_params) if mail_params else "", (" " + rcpt_params) if rcpt_params else ""
    for cmd in ["EHLO client.example", f"MAIL FROM:<{sender}>{mp}", *[f"RCPT TO:<{r}>{rp}" for r in rcpts], "DATA"]:
        writer.write((cmd + "\r\n").encode())
        await reply()
    writer.write(data.replace("\r\n", "\n").replace("\n", "\r\n").encode() + b".\r\n")
    await reply()
    writer.write(b"QUIT\r\n")
    await reply()
    await reader.read()
    return replies


# -- masking ------------------------------------------------------------------------------------
_Q = r"Q(?:\d+[rs]?|ID)"
_MASKS = [
    (re.compile(r"^\w{3} [ 0-9]\d \d\d:\d\d:\d\d "), "STAMP "),                        # maillog time stamp
    (re.compile(r"\[\d+\]: "), "[PID]: "),
    (re.compile(r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+"), "delay=D, delays=D"),
    (re.compile(r"\b\w{3}, [ \d]\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}( \(UTC\))?"), "RFCDATE"),
    (re.compile(r"\b\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d( \d{4})?"), "CTIME"),           # mailq, mbox From_, postcat
    (re.compile(rf"\b\d{{14}}\.(?={_Q}@)"), "STAMP."),                                  # Message-Id
    (re.compile(rf"(?<=\.)\d{{10}}(?=/mail\.example\.com)"), "EPOCH"),                   # DSN boundary
    (re.compile(r'"arrival_time": \d+'), '"arrival_time": EPOCH'),
    (re.compile(r"client_port=\d+"), "client_port=PORT"),
]


def mask(text: str, ids: dict[str, str]) -> str:
    """``text`` with queue ids replaced by their labels (unknown ones QID) and times masked."""
    def qid(m: re.Match[str]) -> str:
        return ids.get(m.group(0), "QID")
    out = []
    for line in text.split("\n"):
        line = QID.sub(qid, line)
        for rx, rep in _MASKS:
            line = rx.sub(rep, line)
        out.append(line)
    return "\n".join(out)


def _unordered(cmd: str, out: str) -> str:
    """Queue listings come in readdir order, which is the file system's: compare them as sets."""
    if re.search(r"(?:^|\| *)(?:mailq|postqueue -p|sendmail -bp)(?: |$)", cmd) and "-Queue ID-" in out:
        head, _, rest = out.partition("\n")
        body, sep, foot = rest.rpartition("\n-- ")
        return "\n".join([head, *sorted(body.strip("\n").split("\n\n")), sep + foot])
    if re.search(r"\bpostqueue -j\b", cmd):
        return "".join(sorted(out.splitlines(keepends=True)))
    return out


_OFFSET = re.compile(r"^ *(\d+) ", re.M)


def _record_lengths(out: str) -> str:
    """postcat -o: offsets as record lengths; the time records' lengths vary with the microseconds."""
    lines = out.split("\n")
    offs = [int(m.group(1)) if (m := _OFFSET.match(x)) else None for x in lines]
    res = []
    for i, line in enumerate(lines):
        if offs[i] is None:
            res.append(line)
            continue
        nxt = next((o for o in offs[i + 1:] if o is not None), None)
        text = _OFFSET.sub("", line, count=1)
        size = "?" if nxt is None or re.match(r"(message_arrival_time|create_time):", text) else nxt - offs[i]
        res.append(f"[{size}] {text}")
    return "\n".join(res)


_HASHED = re.compile(r"\b(deferred|defer|hold|active|incoming|bounce|trace|flush|maildrop)/((?:\w/)*)(\w{10,})\b")


def _rehash(pf: Any, m: re.Match[str]) -> str:
    """A queue file path in a command, with simlab's hash directories for the (translated) id."""
    if not m.group(2):
        return m.group(0)
    dirs = pf.store.hash_dirs(m.group(1), m.group(3))
    return f"{m.group(1)}/{''.join(d + '/' for d in dirs)}{m.group(3)}"


def _messages(content: str) -> list[str]:
    """An mbox append, message by message: agents running side by side append in any order."""
    parts = re.split(r"(?<=\n\n)(?=From \S+  )", content)     # the blank line ends its message
    return sorted(parts)


def _hash_dirs(text: str) -> str:
    """Hash directory names depend on the queue id: check them against the id, then mask them."""
    from simlab.postfix.common.queue import id_hash_source

    def sub(m: re.Match[str]) -> str:
        dirs = m.group(2).split("/")[:-1]
        want = id_hash_source(m.group(3))[:len(dirs)]
        return f"{m.group(1)}/{'H/' * len(dirs) if ''.join(dirs) == want else m.group(2) + 'BAD-HASH/'}{m.group(3)}"
    return _HASHED.sub(sub, text)


def _command(c: dict[str, Any], ids: dict[str, str], postfix_uid: str) -> tuple[Any, ...]:
    out, err = _hash_dirs(c["stdout"]), _hash_dirs(c["stderr"])
    if c["cmd"].startswith("postfix "):     # postfix-script echoes to stderr only on a terminal
        err = "".join(x for x in err.splitlines(keepends=True) if not x.startswith("postfix/postfix-script: "))
    if re.search(r"\bpostcat -\w*o", c["cmd"]):
        out = _record_lengths(out)
    out = re.sub(r"^((?:\[\d+\] )?message_size: +\d+ +)\d+", r"\1DATA_OFFSET", out, flags=re.M)
    out, err = (x.replace(f"from userid {postfix_uid})", "from userid POSTFIX)") for x in (out, err))
    return (c["cmd"], c["rc"], _unordered(c["cmd"], mask(out, ids)), mask(err, ids))


def normalize_step(st: dict[str, Any], ids: dict[str, str], postfix_uid: str) -> dict[str, Any]:
    """The comparable content of a step: commands, maillog (as a multiset) and deliveries.

    ``postfix_uid`` is the postfix account's uid on that side (it depends on install order).
    """
    def log(line: str) -> str:
        line = re.sub(r"running: PID: \d+", "running: PID: N", line)
        return mask(line.replace(f"uid={postfix_uid} from=", "uid=POSTFIX from="), ids)
    return {
        "commands": [_command(c, ids, postfix_uid) for c in st["commands"]],
        "mail_log": sorted(log(line) for line in st["mail_log"]) if st["mail_log"] is not None else None,
        "deliveries": sorted((d["file"], _messages(mask(d["content"], ids))) for d in st["deliveries"]),
    }
