"""Run benchmark suites and record them in benchmarks/out/RESULTS.md (untracked).

python -m benchmarks                  # every suite (make bench)
python -m benchmarks preview -n 5     # some suites, 5 repetitions
python -m benchmarks --update         # also replace the tracked benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import re
import sys

from .timing import ROOT, machine

SUITES = ["preview", "policies", "reconcile", "real_engine", "layers"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"{', '.join(SUITES)} (default: all)")
    parser.add_argument("-n", "--repeat", type=int, default=5, help="repetitions per measurement (default 5)")
    parser.add_argument("--no-write", action="store_true", help="print only; write no file")
    parser.add_argument(
        "--update",
        action="store_true",
        help="record in the tracked benchmarks/RESULTS.md (default: benchmarks/out/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suites: {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)  # moto.server only; no benchmark talks to AWS
    # Like with like: the SDK's modules were compiled to bytecode when pip installed them; compile this project's
    # too, or a machine with PYTHONDONTWRITEBYTECODE (many CI images) compiles them from source in every run.
    import compileall

    for folder in ("components", "ptc", "policies"):
        compileall.compile_dir(ROOT / folder, quiet=1, rx=re.compile(r"/venv/"))
    compileall.compile_file(ROOT / "__main__.py", quiet=1)

    sections = []
    for name in args.suites or SUITES:
        suite = importlib.import_module(f"benchmarks.{name}")
        print(f"## {suite.TITLE}", flush=True)
        timings, notes = suite.run(args.repeat)
        lines = [f"## {suite.TITLE}", "", suite.HEAD, *(t.row() for t in timings), "", *(f"- {n}" for n in notes)]
        print("\n".join(lines[2:]) + "\n", flush=True)
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
        target = ROOT / "benchmarks" / ("RESULTS.md" if args.update else "out/RESULTS.md")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(header + sections) + "\n")
        print(f"recorded in {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
