"""NAME
    timeout - smtpd_timeout for one smtpd(8) connection

DESCRIPTION
    aiosmtpd re-arms its idle timer after every line. Lines that arrive
    together (a pipelined group, a DATA chunk) would re-arm it with the same
    deadline, so the live timer is kept. On the virtual clock the timer is
    moved (VirtualLoop.postpone: the order cancel + call_later would give);
    on asyncio's loop the armed timer is kept and only the deadline moves:
    _timeout_cb() re-arms itself when it fires before the deadline. When it
    expires, smtpd logs "timeout after CMD from name[addr]" and sends
    "421 4.4.2 host Error: timeout exceeded".

PARAMETERS
    smtpd_timeout. See postconf(5), smtpd(8).
"""

from __future__ import annotations

from . import replies as R


class TimeoutMixin:
    """The session's _reset_timeout()/_timeout_cb(), in place of aiosmtpd's."""

    def _reset_timeout(self, duration: float | None = None) -> None:
        d = duration or self._timeout_duration
        now = self.loop.time()
        key = (now, d)
        handle = self._timeout_handle
        if handle is not None:
            if self._timeout_key == key and not handle.cancelled():
                return
            self._timeout_key = key
            if self._postpone is not None:
                if self._postpone(handle, d):
                    return
            elif self._deadline is not None and not handle.cancelled() and handle.when() <= now + d:
                self._deadline = now + d
                return
            handle.cancel()
        self._timeout_handle = self.loop.call_later(d, self._timeout_cb)
        self._timeout_key = key
        self._deadline = now + d

    def _timeout_cb(self) -> None:
        deadline = self._deadline
        if deadline is not None and self._postpone is None:
            rest = deadline - self.loop.time()
            if rest > 0:
                self._timeout_handle = self.loop.call_later(rest, self._timeout_cb)
                return
        self._deadline = None
        self._timeout_key = None
        if self.transport is None:
            return
        self.log(f"timeout after {self.where} from {self.namaddr}")
        self.transport.write((str(R.timeout(self.myhostname)) + "\r\n").encode())
        self._timed_out = True
        self.transport.close()
