"""`PTC_TIMINGS=1`: when each phase of a run ended, in seconds since the process started, on stderr at exit.

For `benchmarks/` and for anyone asking where the time goes; costs nothing when unset.
"""

from __future__ import annotations

import os
import sys
import time

ENABLED = os.environ.get("PTC_TIMINGS") == "1"
_marks: list[tuple[str, float, float]] = []


def _since_process_start() -> float:
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            started = int(stat.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
            return float(uptime.read().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return 0.0


_ORIGIN = time.perf_counter() - (_since_process_start() if ENABLED else 0.0)


def mark(label: str) -> None:
    if ENABLED:
        _marks.append((label, time.perf_counter() - _ORIGIN, time.process_time()))


def report() -> None:
    if ENABLED and _marks:
        # each mark: wall seconds since the process started, then this process's own CPU seconds so far (the
        # relay and the packs are other processes)
        marks = " | ".join(f"{label} {at:.3f}/{cpu:.3f}" for label, at, cpu in _marks)
        print(f"timings: {marks}", file=sys.stderr)
