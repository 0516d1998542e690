"""Complete SMTP transactions per second: virtual network vs real loopback sockets.

Both sides run the same server (simlab's smtpd + cleanup + qmgr, the full Postfix-like
path: every accepted message is a queue file, then discarded by the discard transport) and
the same client coroutine (EHLO, MAIL, RCPT, DATA with a 2 KB message, QUIT, one connection
per transaction), in one process on one core:

  (a) on the virtual network (virtual time; no sockets)
  (b) on real 127.0.0.1 sockets with the ordinary asyncio loop (simlab serve's set-up)

Goals (issue 2): (a) >= 1,500 transactions/s, (a)/(b) >= 2.

    .venv/bin/python bench/bench_smtp.py [--runs 5] [--n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
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


def make_root(where: Path) -> Path:
    root = init_root(where, "mail.example.com", users=["alice"])
    with open(root / "etc/postfix/main.cf", "a") as f:
        f.write(EXTRA_MAIN_CF)
    return root


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


def run_virtual(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        net = Network(seed=1, workdir=tmp)
        make_root(Path(tmp) / "mail.example.com")
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


def run_real(n: int) -> float:
    from simlab.postfix.system import PostfixSystem

    async def main(root: Path) -> float:
        pf = PostfixSystem.for_root(root, remap={25: ("127.0.0.1", 0)}, fsync=False)
        await pf.start()
        host, port = pf.binder.bound[0]
        t0 = time.perf_counter()
        for _ in range(n):
            r, w = await asyncio.open_connection(host, port)
            await transaction(r, w)
        while pf.store.list("incoming") or pf.store.list("active"):
            await asyncio.sleep(0.001)
        rate = n / (time.perf_counter() - t0)
        await pf.stop()
        return rate

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(main(make_root(Path(tmp) / "mx")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000)
    a = ap.parse_args()
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
          f"{'met' if mv / mr >= 2 else 'NOT met'}   ({a.runs} runs x {a.n} transactions, fsync off on both)")


if __name__ == "__main__":
    main()
