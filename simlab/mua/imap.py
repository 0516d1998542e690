"""NAME
    imap - the mail client's IMAP side, sans-IO: folders, messages with flags, flag changes

SUMMARY
    core = IMAPClient("erin", "erin-pw", folder="INBOX", fetch=True)
    await run_client(core, reader, writer)
    core.folders, core.fetched   # [{"uid": 1, "flags": [...], "size": n, "raw": b"..."}]

DESCRIPTION
    One IMAP4rev1 session (RFC 3501) driven by TRANSITIONS, keyed by (state,
    "OK" | "NO" | "BAD" | SKIP): LOGIN, LIST "" "*" (when folders are
    wanted), SELECT of one folder, UID FETCH 1:* (UID FLAGS RFC822.SIZE
    BODY.PEEK[]) (when messages are wanted, so reading does not set \\Seen),
    UID STORE for each requested flag change, LOGOUT. Responses are read
    with their literals ({n} followed by n bytes); ``parse`` turns a
    response into nested Python lists of str/bytes.

SEE ALSO
    RFC 3501, simlab.io.run_client
"""

from __future__ import annotations

import enum
import re
from typing import Any

from .dialog import Dialog

SKIP = "SKIP"


class I(enum.Enum):  # noqa: E742 - the protocol's own short name
    GREETING = "GREETING"
    LOGIN = "LOGIN"
    LIST = "LIST"
    SELECT = "SELECT"
    FETCH = "FETCH"
    STORE = "STORE"
    LOGOUT = "LOGOUT"
    CLOSED = "CLOSED"


TRANSITIONS: dict[tuple[I, str], I] = {
    (I.GREETING, "OK"): I.LOGIN, (I.GREETING, "NO"): I.CLOSED, (I.GREETING, "BAD"): I.CLOSED,
    (I.LOGIN, "OK"): I.LIST, (I.LOGIN, "NO"): I.LOGOUT, (I.LOGIN, "BAD"): I.LOGOUT,
    (I.LIST, "OK"): I.SELECT, (I.LIST, "NO"): I.SELECT, (I.LIST, "BAD"): I.SELECT,
    (I.LIST, SKIP): I.SELECT,
    (I.SELECT, "OK"): I.FETCH, (I.SELECT, "NO"): I.LOGOUT, (I.SELECT, "BAD"): I.LOGOUT,
    (I.SELECT, SKIP): I.LOGOUT,
    (I.FETCH, "OK"): I.STORE, (I.FETCH, "NO"): I.STORE, (I.FETCH, "BAD"): I.STORE,
    (I.FETCH, SKIP): I.STORE,
    (I.STORE, "OK"): I.STORE, (I.STORE, "NO"): I.STORE, (I.STORE, "BAD"): I.STORE,
    (I.STORE, SKIP): I.LOGOUT,
    (I.LOGOUT, "OK"): I.CLOSED, (I.LOGOUT, "NO"): I.CLOSED, (I.LOGOUT, "BAD"): I.CLOSED,
}
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n?$")
_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}\r?\n'
                    r'|([^\s()"\[\]]+(?:\[[^\]]*\](?:<[\d.]+>)?)?))')


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse(data: bytes) -> list[Any]:
    """An IMAP response line (literals inline) as nested lists of str and bytes (literals)."""
    text = data.decode("latin-1")
    pos = 0
    stack: list[list[Any]] = [[]]
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            pos += 1
            continue
        pos = m.end()
        if m.group(1):
            stack.append([])
        elif m.group(2):
            if len(stack) > 1:
                done = stack.pop()
                stack[-1].append(done)
        elif m.group(3) is not None:
            text_value = re.sub(r"\\(.)", r"\1", m.group(3))
            stack[-1].append(text_value.encode("latin-1").decode("utf-8", "replace"))
        elif m.group(4) is not None:
            n = int(m.group(4))
            stack[-1].append(text[pos:pos + n].encode("latin-1"))
            pos += n
        elif m.group(5) is not None:
            stack[-1].append(m.group(5))
    while len(stack) > 1:
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


class IMAPClient(Dialog):
    """An IMAP session: log in, optionally list folders, read one folder, change flags."""

    FINAL = I.LOGOUT

    def __init__(self, user: str, password: str, *, folder: str | None = "INBOX",
                 list_folders: bool = False, fetch: bool = True,
                 stores: list[tuple[int, str, list[str]]] | None = None) -> None:
        self.user = user
        self.password = password
        self.folder = folder
        self.list_folders = list_folders
        self.fetch = fetch
        self.stores = list(stores or [])
        self.state = I.GREETING
        self.done = False
        self.error = ""
        self.greeting = ""
        self.folders: list[str] = []
        self.exists = 0
        self.fetched: list[dict[str, Any]] = []
        self.untagged: list[list[Any]] = []
        self._out = bytearray()
        self._buf = b""
        self._resp = b""
        self._need = 0
        self._tag = 0

    def receive_data(self, data: bytes) -> None:
        self._buf += data
        while not self.done:
            if self._need:
                if len(self._buf) < self._need:
                    return
                self._resp += self._buf[:self._need]
                self._buf = self._buf[self._need:]
                self._need = 0
                continue
            nl = self._buf.find(b"\n")
            if nl < 0:
                return
            line, self._buf = self._buf[:nl + 1], self._buf[nl + 1:]
            self._resp += line
            m = _LITERAL.search(line)
            if m:
                self._need = int(m.group(1))
                continue
            resp, self._resp = self._resp.rstrip(b"\r\n"), b""
            self._response(resp)

    def _response(self, resp: bytes) -> None:
        words = parse(resp)
        if not words:
            return
        if self.state is I.GREETING:
            self.greeting = resp.decode("utf-8", "replace")
            self._advance(str(words[1]).upper() if len(words) > 1 else "BAD", resp)
            return
        if words[0] == "*":
            self._untagged(words[1:])
            return
        if words[0] == f"a{self._tag}":
            self._advance(str(words[1]).upper() if len(words) > 1 else "BAD", resp)

    def _untagged(self, words: list[Any]) -> None:
        self.untagged.append(words)
        if len(words) >= 4 and str(words[0]).upper() == "LIST":
            name = words[3]
            self.folders.append(name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name))
        elif len(words) >= 2 and str(words[1]).upper() == "EXISTS" and str(words[0]).isascii() \
                and str(words[0]).isdigit():
            self.exists = int(words[0])
        elif len(words) >= 3 and str(words[1]).upper() == "FETCH" and isinstance(words[2], list):
            items = words[2]
            seq = str(words[0])
            info: dict[str, Any] = {"seq": int(seq) if seq.isascii() and seq.isdigit() else 0}
            for key, value in zip(items[::2], items[1::2], strict=False):
                k = str(key).upper()
                if k == "UID":
                    info["uid"] = int(value)
                elif k == "FLAGS":
                    info["flags"] = [str(f) for f in value]
                elif k == "RFC822.SIZE":
                    info["size"] = int(value)
                elif k.startswith("BODY[") or k == "RFC822":
                    info["raw"] = value if isinstance(value, bytes) else str(value).encode()
            if self.state is I.FETCH:
                self.fetched.append(info)

    def _advance(self, status: str, resp: bytes) -> None:
        status = status if status in ("OK", "NO", "BAD") else "BAD"
        if status != "OK" and self.state in (I.GREETING, I.LOGIN, I.SELECT) and not self.error:
            self.error = resp.decode("utf-8", "replace")
        self._enter(TRANSITIONS[(self.state, status)])

    def _skips(self, state: I) -> bool:
        return {I.LIST: not self.list_folders, I.SELECT: self.folder is None,
                I.FETCH: not self.fetch, I.STORE: not self.stores}.get(state, False)

    def _enter(self, state: I) -> None:
        while self._skips(state):
            state = TRANSITIONS[(state, SKIP)]
        self.state = state
        if state is I.CLOSED:
            self.done = True
            return
        if state is I.LOGIN:
            cmd = f"LOGIN {quote(self.user)} {quote(self.password)}"
        elif state is I.LIST:
            cmd = 'LIST "" "*"'
        elif state is I.SELECT:
            cmd = f"SELECT {quote(self.folder or 'INBOX')}"
        elif state is I.FETCH:
            cmd = "UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])"
        elif state is I.STORE:
            uid, mode, flags = self.stores.pop(0)
            cmd = f"UID STORE {uid} {mode}FLAGS.SILENT ({' '.join(flags)})"
        else:
            cmd = "LOGOUT"
        self._tag += 1
        self._out += f"a{self._tag} {cmd}\r\n".encode("utf-8")
