"""NAME
    bench_postconf - start-up cost of ``simlab postconf -d``

SUMMARY
    python bench/bench_postconf.py [--runs N]

DESCRIPTION
    Times a fresh interpreter running ``postconf -d`` (all 958 defaults of
    the lab, from simlab's own parameter table) against a bare ``python -c
    pass``, N runs each (default 5), and prints a table with the medians.
    The goal is a median under 0.5 s for postconf. Each run is a new
    process, as when a student types the command.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB = HERE.parent / "tests" / "data" / "postconf" / "lab"
GOAL = 0.5


def _time(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=HERE.parent)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time simlab postconf -d")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        conf = Path(root) / "etc" / "postfix"
        conf.mkdir(parents=True)
        for name in ("main.cf", "master.cf"):
            shutil.copy(LAB / name, conf / name)
        postconf = [sys.executable, "-c",
                    "import sys; from simlab.postfix.commands.postconf import main; "
                    f"sys.exit(main(['--root', {root!r}, '-d']))"]
        rows = [("python -c pass", _time([sys.executable, "-c", "pass"], args.runs)),
                ("simlab postconf -d", _time(postconf, args.runs))]
    print(f"{'command':<22} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, times in rows:
        print(f"{name:<22} {len(times):>4} {statistics.median(times):>9.3f} "
              f"{min(times):>7.3f} {max(times):>7.3f}")
    median = statistics.median(rows[1][1])
    print(f"goal: postconf -d median < {GOAL} s: {'met' if median < GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
