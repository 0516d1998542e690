"""NAME
    io - run a sans-IO protocol core over asyncio streams

SUMMARY
    from simlab.io import run_client
    reader, writer = await host.open_connection("10.0.0.25", 25, component="smtp")
    await run_client(core, reader, writer)

DESCRIPTION
    The protocol cores under ``simlab.proto`` (and the mail client's POP3 and
    IMAP cores) never touch a socket. ``run_client`` is the one loop that
    moves their bytes: it works the same over the virtual network's
    in-memory streams and over real sockets (``asyncio.open_connection``).

SEE ALSO
    simlab.proto.smtp, simlab.sim.network
"""

from __future__ import annotations

from .stream import ClientCore, run_client

__all__ = ["ClientCore", "run_client"]
