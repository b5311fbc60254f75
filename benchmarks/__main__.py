"""Run benchmark suites and record them in benchmarks/RESULTS.md.

    python -m benchmarks                  # every suite, default repetitions
    python -m benchmarks preview -n 5     # one suite
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import sys

from .timing import ROOT, machine

SUITES = ["preview"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("suites", nargs="*", default=SUITES, choices=SUITES)
    parser.add_argument("-n", "--repeat", type=int, default=5, help="repetitions per measurement (default 5)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    sections = []
    for name in args.suites:
        suite = importlib.import_module(f"benchmarks.{name}")
        print(f"## {suite.TITLE}", flush=True)
        timings, notes = suite.run(args.repeat)
        lines = [f"## {suite.TITLE}", "", suite.HEAD, *(t.row() for t in timings), "", *(f"- {n}" for n in notes)]
        print("\n".join(lines[2:]), flush=True)
        sections.append("\n".join(lines))

    if not args.no_write:
        command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
        header = [
            "# Benchmark results",
            "",
            f"Recorded {datetime.date.today().isoformat()} on {machine()}.",
            f"Command: `{command.strip()}` (wall-clock seconds; each measurement repeated, min and median).",
            "",
        ]
        (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(header + sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
