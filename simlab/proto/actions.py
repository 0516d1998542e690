"""NAME
    actions - what a sans-IO server core asks of the adapter that runs it

SUMMARY
    core.receive_data(b"...")        # bytes from the client; b"" = end of input
    core.data_to_send()              # bytes for the client
    core.next_action()               # NeedData(timeout) | Sleep(seconds) | Close()
    core.wake()                      # after a Sleep
    core.timeout()                   # NeedData's timeout passed without input

DESCRIPTION
    The protocol cores (pop3, imap) never read a socket, never sleep and
    never look at a clock they were not given. Whatever takes time is a
    request to the adapter: ``Sleep`` (Dovecot's auth_failure_delay, an
    anvil penalty) or ``NeedData`` with a timeout (the idle disconnect, an
    IDLE check interval). On the virtual network the adapter spends that time
    in virtual time; on a real socket it is ordinary asyncio time.

    ``ServerCore`` holds the output buffer and the one pending sleep that
    every core shares; ``ConnectionInfo`` describes the connection's two
    ends as Dovecot logs them (rip, lip, the client port).

SEE ALSO
    h11 (python-hyper) for the sans-IO style; simlab.store.pop3d, imapd
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class NeedData:
    timeout: float | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Close:
    pass


Action = NeedData | Sleep | Close


@dataclass(frozen=True)
class ConnectionInfo:
    remote_ip: str = "127.0.0.1"
    remote_port: int = 0
    local_ip: str = "127.0.0.1"
    local_port: int = 0

    @property
    def secured(self) -> bool:
        """Dovecot treats a connection whose two ends share an address as secured."""
        return self.remote_ip == self.local_ip


class ServerCore:
    """Output buffer, input buffer and the pending-sleep machinery of a core."""

    idle_timeout: float | None = None

    def __init__(self) -> None:
        self._out: list[bytes] = []
        self._in = bytearray()
        self._eof = False
        self._closing = False
        self._sleep: float | None = None
        self._sleep_handed = False
        self._after_sleep: Callable[[], None] | None = None

    # -- the adapter's side ------------------------------------------------------
    def data_to_send(self) -> bytes:
        data = b"".join(self._out)
        self._out.clear()
        return data

    def next_action(self) -> Action:
        if self._closing:
            return Close()
        if self._sleep is not None:
            self._sleep_handed = True
            return Sleep(self._sleep)
        return NeedData(self.current_timeout())

    def receive_data(self, data: bytes) -> None:
        if self._closing:
            return
        if data:
            self._in += data
        else:
            self._eof = True
        if self._sleep is None:
            self._process()

    def wake(self) -> None:
        if self._sleep is None:
            return
        cont = self._after_sleep
        self._sleep, self._sleep_handed, self._after_sleep = None, False, None
        if cont is not None:
            cont()
        if self._sleep is None and not self._closing:
            self._process()

    def timeout(self) -> None:
        if not self._closing and self._sleep is None:
            self.on_timeout()

    # -- for subclasses ----------------------------------------------------------
    def current_timeout(self) -> float | None:
        return self.idle_timeout

    def send(self, data: bytes) -> None:
        self._out.append(data)

    def send_line(self, text: str) -> None:
        self.send(text.encode("utf-8", "surrogateescape") + b"\r\n")

    def sleep_then(self, seconds: float, cont: Callable[[], None]) -> None:
        """Ask the adapter for a pause; CONT runs when it calls wake()."""
        self._sleep, self._sleep_handed, self._after_sleep = max(0.0, seconds), False, cont

    def close(self) -> None:
        self._closing = True

    @property
    def closing(self) -> bool:
        return self._closing

    def take_line(self, limit: int) -> bytes | None:
        """Next input line without its CRLF/LF; b'' lines too; None if incomplete."""
        nl = self._in.find(b"\n")
        if nl < 0 or nl > limit:
            if len(self._in) > limit:
                raise OverflowError
            return None
        line = bytes(self._in[:nl])
        del self._in[:nl + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _process(self) -> None:
        raise NotImplementedError

    def on_timeout(self) -> None:
        raise NotImplementedError
