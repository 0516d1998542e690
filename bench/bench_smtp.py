"""Complete SMTP transactions per second: virtual network vs real loopback sockets.

Both sides run the same server (simlab's smtpd + cleanup + qmgr, the full Postfix-like
path: every accepted message is a queue file, then discarded by the discard transport) and
the same client coroutine (EHLO, MAIL, RCPT, DATA with a 2 KB message, QUIT, one connection
per transaction), in one process on one core:

  (a) on the virtual network (virtual time; no sockets)
  (b) on real 127.0.0.1 sockets with the ordinary asyncio loop (simlab serve's set-up)

Goals (issue 2): (a) >= 1,500 transactions/s, (a)/(b) >= 2.

A second table shows where a transaction's time goes, with the same client and the same two
networks and three servers: the full path above; smtpd + cleanup only (qmgr commented out of
master.cf, so each message ends as a queue file in incoming); and a fixed-reply SMTP-shaped
server of twenty lines, which measures the medium alone (the network, asyncio's streams and
the client). The MTA's own work S (full minus medium, on the virtual network) is done on both
networks, so however cheap the virtual medium were made, (a) would take at least S per
transaction and (a)/(b) could be at most (b)'s time / S: that ceiling is printed too.
The same table has a last row for information, not for the goal: (b) as simlab serve's users
run it -- serve in a process of its own (fsync before every 250, qmgr and the delivery agents
in a second process) and the same client in this process, until the queue is empty.

Where the host roots live: on a tmpfs (/dev/shm) when there is one, else in the system's
temporary directory; --workdir chooses. Both networks use the same place. On ext4 without a
journal (this project's development machines) creating a file right after many files were
deleted -- by an earlier run or by any other process, up to five minutes before -- costs
10 to 40 times more (the inode allocator steps over recently deleted inodes), which moved
(a) by up to 30 % between runs of the same code. The table says where the roots were.

    .venv/bin/python bench/bench_smtp.py [--runs 5] [--n 1000] [--no-breakdown] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from simlab.sim.network import Network
from simlab.sim.rootfs import init_root

BODY = ("Subject: bench\r\n\r\n" + ("x" * 76 + "\r\n") * 26)[:2048].encode()
if not BODY.endswith(b"\r\n"):
    BODY += b"\r\n"
COMMANDS = [b"EHLO bench.example\r\n", b"MAIL FROM:<bench@example.com>\r\n",
            b"RCPT TO:<sink@discard.example>\r\n", b"DATA\r\n", BODY + b".\r\n", b"QUIT\r\n"]
EXTRA_MAIN_CF = "\ntransport_maps = inline:{ discard.example=discard:bench }\nrelay_domains = discard.example\n"
SERVERS = ("full", "receive", "medium")     # the full path; smtpd + cleanup only; fixed replies
WORKDIR: str | None = None                  # where the host roots are made (None: the system's tmp)


def default_workdir() -> str | None:
    """/dev/shm when it is a writable directory (a tmpfs on Linux), else None."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def make_root(where: Path, server: str = "full") -> Path:
    root = init_root(where, "mail.example.com", users=["alice"])
    with open(root / "etc/postfix/main.cf", "a") as f:
        f.write(EXTRA_MAIN_CF)
    if server == "receive":
        master_cf = root / "etc/postfix/master.cf"
        lines = master_cf.read_text().splitlines()
        master_cf.write_text("".join(("#" if ln.startswith("qmgr ") else "") + ln + "\n" for ln in lines))
    return root


async def fixed_replies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The "medium" server: Postfix-shaped replies, no checks, nothing stored."""
    writer.write(b"220 mail.example.com ESMTP Postfix\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            writer.write(b"250 2.0.0 Ok: queued as 4FxYz1bC2d\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
            break
        else:
            writer.write(b"250 2.1.0 Ok\r\n")
    writer.close()


async def transaction(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if line[3:4] != b"-":
                return line

    assert (await reply()).startswith(b"220")
    for cmd in COMMANDS:
        writer.write(cmd)
        code = await reply()
        assert code[:1] in b"23", code
    writer.close()


def run_virtual(n: int, server: str = "full") -> float:
    with tempfile.TemporaryDirectory(dir=WORKDIR) as tmp:
        net = Network(seed=1, workdir=tmp)
        if server == "medium":
            net.host("mail.example.com", ip="10.0.0.25").listen_streams(25, fixed_replies, component="smtpd")
        else:
            make_root(Path(tmp) / "mail.example.com", server)
            net.host("mail.example.com", ip="10.0.0.25", mta=True)
        pc = net.host("pc.example.com", ip="10.0.0.5")

        async def many() -> None:
            for _ in range(n):
                r, w = await pc.open_connection("10.0.0.25", 25, component="bench")
                await transaction(r, w)

        t0 = time.perf_counter()
        net.run_sync(many())
        net.run()
        return n / (time.perf_counter() - t0)


def run_real(n: int, server: str = "full") -> float:
    from simlab.postfix.system import PostfixSystem

    async def main(root: Path) -> float:
        if server == "medium":
            srv = await asyncio.start_server(fixed_replies, "127.0.0.1", 0)
            host, port = srv.sockets[0].getsockname()[:2]
        else:
            pf = PostfixSystem.for_root(root, remap={25: ("127.0.0.1", 0)}, fsync=False)
            await pf.start()
            host, port = pf.binder.bound[0]
        t0 = time.perf_counter()
        for _ in range(n):
            r, w = await asyncio.open_connection(host, port)
            await transaction(r, w)
        if server == "full":
            while pf.store.list("incoming") or pf.store.list("active"):
                await asyncio.sleep(0.001)
        rate = n / (time.perf_counter() - t0)
        if server == "medium":
            srv.close()
            await srv.wait_closed()
        else:
            await pf.stop()
        return rate

    with tempfile.TemporaryDirectory(dir=WORKDIR) as tmp:
        return asyncio.run(main(make_root(Path(tmp) / "mx", server)))


def run_serve(n: int) -> float:
    """(b) as users run it: `simlab serve` in its own process, this process the client."""
    import subprocess
    import sys
    from bench_mta_sockets import free_port, queue_empty, stop, wait_port

    with tempfile.TemporaryDirectory(dir=WORKDIR) as tmp:
        root = make_root(Path(tmp) / "mx")
        ports = {name: free_port() for name in ("smtp", "submission", "pop3", "imap")}
        cmd = [sys.executable, "-m", "simlab", "serve", "--root", str(root)]
        for name, port in ports.items():
            cmd += [f"--{name}", f"127.0.0.1:{port}"]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(ports["smtp"], server)

            async def many() -> float:
                t0 = time.perf_counter()
                for _ in range(n):
                    r, w = await asyncio.open_connection("127.0.0.1", ports["smtp"])
                    await transaction(r, w)
                while not queue_empty(root):
                    await asyncio.sleep(0.001)
                return n / (time.perf_counter() - t0)
            return asyncio.run(many())
        finally:
            stop(server)


def breakdown(runs: int, n: int, full: tuple[float, float]) -> None:
    """The second table: medians per server, and the ceiling the server's own work puts on (a)/(b)."""
    medians = {"full": full}
    for server in SERVERS[1:]:
        virt = [run_virtual(n, server) for _ in range(runs)]
        real = [run_real(n, server) for _ in range(runs)]
        medians[server] = statistics.median(virt), statistics.median(real)
    label = {"full": "full path (the goal)", "receive": "smtpd + cleanup only", "medium": "medium only"}
    print()
    print(f"{'server':<24}{'(a) ms/tx':>10}{'(b) ms/tx':>10}{'(a)/(b)':>9}")
    for server in SERVERS:
        mv, mr = medians[server]
        print(f"{label[server]:<24}{1e3 / mv:>10.3f}{1e3 / mr:>10.3f}{mv / mr:>9.2f}")
    work = 1e3 / medians["full"][0] - 1e3 / medians["medium"][0]    # S: the MTA's own work per tx
    real_full = 1e3 / medians["full"][1]
    print(f"the MTA's own work on the virtual network S = full - medium = {work:.3f} ms/tx; even with a "
          f"medium costing nothing, (a)/(b) <= {real_full:.3f} / S = {real_full / work:.2f}")
    serve = statistics.median(run_serve(n) for _ in range(runs))
    print(f"for information, (b) as `simlab serve` runs (own process, fsync, qmgr in a second process): "
          f"{1e3 / serve:.3f} ms/tx = {serve:.0f} tx/s; (a) / that = {medians['full'][0] / serve:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--no-breakdown", action="store_true", help="only the goal's table")
    ap.add_argument("--workdir", default=default_workdir(),
                    help="where the host roots are made (default: /dev/shm if there is one, else the system's tmp)")
    a = ap.parse_args()
    global WORKDIR
    WORKDIR = a.workdir
    virt, real = [], []
    for i in range(a.runs):
        virt.append(run_virtual(a.n))
        real.append(run_real(a.n))
        print(f"run {i + 1}: virtual {virt[-1]:8.0f}/s   real sockets {real[-1]:8.0f}/s", flush=True)
    mv, mr = statistics.median(virt), statistics.median(real)
    print()
    print(f"{'network':<22}{'median tx/s':>12}{'min':>9}{'max':>9}")
    print(f"{'(a) virtual':<22}{mv:>12.0f}{min(virt):>9.0f}{max(virt):>9.0f}")
    print(f"{'(b) real loopback':<22}{mr:>12.0f}{min(real):>9.0f}{max(real):>9.0f}")
    print(f"{'ratio (a)/(b)':<22}{mv / mr:>12.2f}")
    print(f"goals: (a) >= 1500/s: {'met' if mv >= 1500 else 'NOT met'};  (a)/(b) >= 2: "
          f"{'met' if mv / mr >= 2 else 'NOT met'}   ({a.runs} runs x {a.n} transactions, fsync off on both, "
          f"host roots in {WORKDIR or tempfile.gettempdir()})")
    if not a.no_breakdown:
        breakdown(a.runs, a.n, (mv, mr))


if __name__ == "__main__":
    main()
