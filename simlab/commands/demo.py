"""NAME
    simlab demo - run a demonstration scenario in the terminal

SUMMARY
    simlab demo [NAME] [--seed N] [--trace FILE]

DESCRIPTION
    Without NAME, the tour: two domains, alice's mail client sends one
    message to erin@oreilly.com; the SMTP dialogs are printed as
    transcripts, then the maillogs and erin's mailbox. The NAMEs are the
    chapters' key demonstrations:

        telnet            the book's SMTP session typed line by line (chapter 2)
        reject-vs-bounce  refused during the dialog versus accepted then bounced (chapter 2)
        address-classes   the resolve() table of the reference lab (chapter 3)
        queue             a deferral, retries in virtual time, the final bounce (chapters 3-4)

    --trace FILE writes every event of the run as JSON lines. The same NAME
    and seed always print the same text and write the same file, byte for
    byte.
"""

from __future__ import annotations

import argparse
import sys

from ..scenarios.demos import DEMOS


def main(argv: list[str]) -> int:
    names = "".join(f"  {name:<17} {(fn.__doc__ or '').strip().splitlines()[0]}\n" for name, fn in DEMOS.items())
    p = argparse.ArgumentParser(prog="simlab demo", description="run a demonstration scenario in the terminal",
                                epilog="demonstrations:\n" + names,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", default="tour", metavar="NAME", choices=list(DEMOS),
                   help="which demonstration (default: tour)")
    p.add_argument("--seed", type=int, default=1, help="seed of the network (default 1)")
    p.add_argument("--trace", metavar="FILE", help="write the trace as JSON lines to FILE")
    a = p.parse_args(argv)
    scenario = DEMOS[a.name](a.seed, sys.stdout)
    try:
        if a.trace:
            scenario.trace.to_jsonl(a.trace)
            sys.stdout.write(f"\ntrace: {len(scenario.trace)} events written to {a.trace}\n")
    finally:
        scenario.close()
    return 0
