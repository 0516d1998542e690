"""NAME
    dialog - what the mail client's POP3 and IMAP cores share: output buffer, end of session

SUMMARY
    class POP3Client(Dialog):
        FINAL = P.QUIT          # the state in which the server may close

DESCRIPTION
    A sans-IO client core (simlab.io.ClientCore) keeps the bytes it has to
    send in ``_out`` and its progress in ``state``, ``done`` and ``error``.
    The end of the connection is an error unless the core was in its FINAL
    state (the server closes after QUIT or LOGOUT) or already had one; a
    time-out names the state whose reply did not come.

SEE ALSO
    simlab.io.run_client, simlab.mua.pop3, simlab.mua.imap
"""

from __future__ import annotations

import enum
from typing import ClassVar


class Dialog:
    """data_to_send, receive_eof and receive_timeout of a client core."""

    FINAL: ClassVar[enum.Enum]
    state: enum.Enum
    done: bool
    error: str
    _out: bytearray

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_eof(self) -> None:
        if not self.done and self.state is not self.FINAL and not self.error:
            self.error = "connection closed by the server"
        self.done = True

    def receive_timeout(self) -> None:
        if not self.done:
            self.error = self.error or f"timed out waiting for the reply to {self.state.name}"
        self.done = True
