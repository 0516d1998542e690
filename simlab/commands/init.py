"""NAME
    simlab init - create a host root with a working default configuration

SUMMARY
    simlab init ROOT [--hostname H] [--domain D] [--user NAME ...]
"""

from __future__ import annotations

import argparse

from ..sim.rootfs import init_root


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="simlab init", description="create a host root (a Unix machine in a folder)")
    p.add_argument("root")
    p.add_argument("--hostname", default="mail.example.com")
    p.add_argument("--domain", default=None)
    p.add_argument("--user", action="append", dest="users", help="a user account (repeatable; default alice, bob)")
    a = p.parse_args(argv)
    root = init_root(a.root, a.hostname, a.domain, a.users or ["alice", "bob"])
    print(f"simlab: created host root {root} for {a.hostname}")
    return 0
