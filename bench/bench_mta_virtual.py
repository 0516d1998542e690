"""NAME
    bench_mta_virtual - 10,000 messages end to end on the virtual network

SUMMARY
    .venv/bin/python bench/bench_mta_virtual.py [--runs 3] [--messages 10000] [--sessions 10] [--workdir DIR]
                                                [--size 2048] [--tracemalloc]

DESCRIPTION
    Issue 4's virtual-network benchmark, on one core, in one process:

        pc.example.com   --SMTP-->  mail.example.com  --SMTP (MX)-->  mail.example.net
        (simlab MUA)                 smtpd cleanup qmgr smtp          smtpd cleanup qmgr local
                                                                       -> /var/mail/bob (mbox)

    A simlab MUA on its own host composes each message (From, To, Subject,
    Date, Message-ID and a body of --size bytes) and submits it to
    mail.example.com, which relays it by MX to mail.example.net, whose
    local(8) appends it to bob's mbox. --sessions MUA connections run at
    once (as smtp-source -s does). The clock is the network's virtual
    time; what is measured is wall time, from the first submission until
    the network is quiet, after which every message must be in the
    mailbox (checked). Goal: 10,000 messages in < 20 s.

    Memory: the peak resident set size of the process (ru_maxrss, which
    includes the interpreter and the libraries), the growth of it during
    the run, and the number of trace events kept. --tracemalloc runs once
    more under tracemalloc and reports its peak (slower; not timed).

    As a baseline in the same run, the same messages are composed and
    written to an mbox file directly (no network, no MTA): the floor that
    the MUA and the mailbox format alone cost.

    Not a test: run it by hand on a quiet machine and quote the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_smtp import default_workdir  # noqa: E402  (the same place for the host roots)
from simlab.mua import MUA, compose  # noqa: E402
from simlab.sim.network import Network  # noqa: E402
from simlab.sim.rootfs import init_root  # noqa: E402
from simlab.store.mbox import Mbox  # noqa: E402

RELAY_CF = "\nmynetworks = 127.0.0.0/8 10.0.0.0/24\n"


def body_text(size: int) -> str:
    line = "x" * 76
    lines = [line] * max(1, size // 78)
    return "\n".join(lines)


def build(tmp: Path) -> tuple[Network, MUA]:
    net = Network(seed=1, workdir=tmp)
    init_root(tmp / "mail.example.com", "mail.example.com", users=["alice"])
    with open(tmp / "mail.example.com/etc/postfix/main.cf", "a") as f:
        f.write(RELAY_CF)
    net.host("mail.example.com", ip="10.0.0.25", mta=True)
    net.host("mail.example.net", ip="10.0.1.25", mta=True, users=["bob"])
    net.dns.mx("example.com", "mail.example.com", pref=10)
    net.dns.mx("example.net", "mail.example.net", pref=10)
    net.host("pc.example.com", ip="10.0.0.10")
    mua = MUA(net, "pc.example.com", "Alice <alice@example.com>", smtp=("10.0.0.25", 25))
    return net, mua


def run_once(a: argparse.Namespace, measure_memory: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-virtual-", dir=getattr(a, "workdir", None)) as tmp:
        net, mua = build(Path(tmp))
        body = body_text(a.size)
        todo = iter(range(a.messages))
        refused: list[str] = []

        async def session() -> None:
            for i in todo:
                res = await mua.send(to="bob@example.net", subject=f"bench {i}", body=body)
                if not res.ok:
                    refused.append(res.error or str(res.refused))

        async def all_sessions() -> None:
            await asyncio.gather(*(session() for _ in range(a.sessions)))

        gc.collect()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if measure_memory:
            tracemalloc.start()
        t0 = time.perf_counter()
        net.run_sync(all_sessions())
        t_submitted = time.perf_counter() - t0
        net.run()
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
        if measure_memory:
            tracemalloc.stop()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if refused:
            raise RuntimeError(f"{len(refused)} messages refused, e.g. {refused[0]}")
        box = Mbox(net["mail.example.net"].path("/var/mail/bob"))
        got = len(box.messages())
        if got != a.messages:
            raise RuntimeError(f"bob's mbox holds {got} messages, expected {a.messages}")
        out = {"wall": wall, "submitted": t_submitted, "virtual": net.now, "rss_peak_mb": rss1 / 1024,
               "rss_growth_mb": (rss1 - rss0) / 1024, "events": len(net.trace), "tracemalloc_mb": peak / 2**20}
        net.close()
        return out


def run_floor(a: argparse.Namespace) -> float:
    """Compose every message and append it to an mbox: the cost with no network and no MTA."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-", dir=getattr(a, "workdir", None)) as tmp:
        box = Mbox(Path(tmp) / "bob")
        body = body_text(a.size)
        t0 = time.perf_counter()
        for i in range(a.messages):
            msg, (sender, _rcpts) = compose("Alice <alice@example.com>", to="bob@example.net",
                                            subject=f"bench {i}", body=body, when=1795527410.0 + i,
                                            message_id=f"<{i}@example.com>")
            box.append(bytes(msg), sender, 1795527410.0 + i)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1].strip())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--tracemalloc", action="store_true", help="one more run under tracemalloc (not timed)")
    ap.add_argument("--workdir", default=default_workdir(),
                    help="where the host roots are made (default: /dev/shm if there is one, else the system's tmp; "
                         "see bench_smtp.py)")
    a = ap.parse_args()
    runs, floors = [], []
    for i in range(a.runs):
        r = run_once(a)
        runs.append(r)
        floors.append(run_floor(a))
        print(f"run {i + 1}: {r['wall']:6.2f} s wall ({a.messages / r['wall']:5.0f} msg/s; submissions done "
              f"after {r['submitted']:.2f} s), {r['virtual']:.1f} s virtual, {r['events']} trace events, "
              f"peak RSS {r['rss_peak_mb']:.0f} MB;  floor {floors[-1]:5.2f} s", flush=True)
    walls = [r["wall"] for r in runs]
    mw, mf = statistics.median(walls), statistics.median(floors)
    print()
    print(f"{a.messages} messages, {a.sessions} MUA sessions, {a.size}-byte bodies, {a.runs} runs")
    print(f"{'path':<44}{'median s':>9}{'msg/s':>8}{'min s':>8}{'max s':>8}")
    print(f"{'MUA -> MTA -> MTA -> mbox (virtual network)':<44}{mw:>9.2f}{a.messages / mw:>8.0f}"
          f"{min(walls):>8.2f}{max(walls):>8.2f}")
    print(f"{'baseline: compose + mbox append only':<44}{mf:>9.2f}{a.messages / mf:>8.0f}"
          f"{min(floors):>8.2f}{max(floors):>8.2f}")
    print(f"{'ratio network path / baseline':<44}{mw / mf:>9.1f}")
    last = runs[-1]
    print(f"memory: peak RSS {max(r['rss_peak_mb'] for r in runs):.0f} MB (grew {last['rss_growth_mb']:.0f} MB "
          f"in the last run), {last['events']} trace events kept")
    if a.tracemalloc:
        m = run_once(a, measure_memory=True)
        print(f"tracemalloc peak during one run: {m['tracemalloc_mb']:.0f} MB")
    print(f"goal: {a.messages} messages < 20 s: {'met' if mw < 20 else 'NOT met'}   "
          f"(host roots in {a.workdir or tempfile.gettempdir()})")


if __name__ == "__main__":
    main()
