"""NAME
    checks - cleanup(8) header_checks and body_checks

SUMMARY
    hc = ContentChecks(session)
    hc.header(header) -> new header text, or None to delete it
    hc.body_line(line) -> line, or None
    hc.verdict        -> "", "reject", "discard", "hold"

DESCRIPTION
    Each logical header (continuation lines included) is looked up in the
    header_checks tables (regexp: or pcre: usually), each body line in
    body_checks. The first table that answers decides:

      REJECT [text]   refuse the message at the end of DATA
                      (550 5.7.1 text, default "message content rejected")
      DISCARD [text]  say 250, keep nothing
      HOLD [text]     queue the message in the hold queue
      WARN [text]     only log
      IGNORE          delete this header or body line
      PREPEND text    insert a header (body line) before this one
      REPLACE text    replace this header (body line)
      INFO [text]     only log (at info level)
      FILTER transport:destination
                      after the queue, send the message to that content
                      filter instead of its recipients' destinations
      DUNNO, OK       nothing

    Every action is logged in cleanup's words:
    ``QID: reject: header Subject: spam from localhost[127.0.0.1];
    from=<bob@example.com> to=<alice@example.com> proto=ESMTP
    helo=<client.example>: 5.7.1 message content rejected``.

PARAMETERS
    header_checks, body_checks, body_checks_size_limit.

SEE ALSO
    cleanup(8), header_checks(5), BUILTIN_FILTER_README
"""

from __future__ import annotations

import re
from typing import Any

_DSN = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s+")


class ContentChecks:
    """header_checks/body_checks for one message."""

    def __init__(self, session: Any) -> None:
        self.s = session
        self.header_maps = session.maps_of("header_checks")
        self.body_maps = session.maps_of("body_checks")
        self.verdict = ""
        self.reply = ""
        self.prepend: list[str] = []

    @property
    def active(self) -> bool:
        return bool(self.header_maps or self.body_maps)

    def _lookup(self, maps: list[Any], text: str) -> str | None:
        for m in maps:
            try:
                value = m.lookup(text)
            except Exception as exc:
                self.s.warn(f"{getattr(m, 'spec', m)}: table lookup problem: {exc}")
                return None
            if value is not None:
                return value
        return None

    def header(self, text: str) -> str | None:
        """Apply header_checks to one header; returns its new text or None (deleted)."""
        if not self.header_maps or self.verdict in ("reject", "discard"):
            return text
        value = self._lookup(self.header_maps, text)
        return text if value is None else self._act(value, "header", text)

    def body_line(self, line: str) -> str | None:
        if not self.body_maps or self.verdict in ("reject", "discard"):
            return line
        value = self._lookup(self.body_maps, line)
        return line if value is None else self._act(value, "body", line)

    def _act(self, value: str, where: str, text: str) -> str | None:
        action, _, rest = value.strip().partition(" ")
        rest = rest.strip()
        up = action.upper()
        shown = text.replace("\n", " ")[:200] if where == "header" else text[:200]
        if up == "REJECT":
            dsn, msg = _dsn("5.7.1", rest or "message content rejected")
            self.s.log_action("reject", f"{where} {shown}", f"{dsn} {msg}")
            if self.verdict != "reject":
                self.verdict, self.reply = "reject", f"550 {dsn} {msg}"
            return text
        if up == "DISCARD":
            self.s.log_action("discard", f"{where} {shown}", rest)
            self.verdict = "discard"
            return text
        if up == "HOLD":
            self.s.log_action("hold", f"{where} {shown}", rest)
            if not self.verdict:
                self.verdict = "hold"
            return text
        if up == "WARN":
            self.s.log_action("warning", f"{where} {shown}", rest)
            return text
        if up == "INFO":
            self.s.log_action("info", f"{where} {shown}", rest)
            return text
        if up == "IGNORE":
            return None
        if up == "PREPEND":
            if where == "header":
                self.prepend.append(rest)
                return text
            return rest + "\n" + text
        if up == "REPLACE":
            return rest
        if up == "FILTER":
            self._filter(where, shown, rest)
            return text
        if up in ("REDIRECT", "BCC"):
            self.s.log_action(up.lower(), f"{where} {shown}", rest)
            self.s.actions.append((up, rest))
            return text
        if up in ("DUNNO", "OK"):
            return text
        if action[:3].isascii() and action[:3].isdigit() and action[0] in "45":
            dsn, msg = _dsn(f"{action[0]}.7.1", rest or "message content rejected")
            self.s.log_action("reject", f"{where} {shown}", f"{dsn} {msg}")
            if self.verdict != "reject":
                self.verdict, self.reply = "reject", f"{action[:3]} {dsn} {msg}"
            return text
        self.s.warn(f"unknown command in {where}_checks table: \"{action}\"")
        return text


    def _filter(self, where: str, shown: str, rest: str) -> None:
        """FILTER transport:destination: the message goes to that content filter (last one wins)."""
        s = self.s
        if not rest:
            s.ctx.log.warning(s.ident, s.pid, f"missing FILTER command argument in {where}_checks map")
        elif ":" not in rest:
            s.ctx.log.warning(s.ident, s.pid, f"bad FILTER command {rest} in {where}_checks -- "
                                              "need transport:destination")
        else:
            s.filter = rest
            s.log_action("filter", f"{where} {shown}", rest)


def _dsn(default: str, text: str) -> tuple[str, str]:
    m = _DSN.match(text)
    if m:
        return m.group(1), text[m.end():]
    return default, text
