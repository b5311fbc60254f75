"""Timing helpers: repeat a command, report min and median wall time."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass
class Timing:
    name: str
    samples: list[float]

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def row(self) -> str:
        return f"| {self.name} | {self.min:.3f} | {self.median:.3f} | {len(self.samples)} |"


def measure(name: str, run: Callable[[], None], repeat: int) -> Timing:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return Timing(name, samples)


def command(*args: str, cwd: Path = ROOT, env: dict | None = None) -> Callable[[], None]:
    """A callable that runs a command to completion, failing loudly if it fails."""

    def run() -> None:
        result = subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
        if result.returncode not in (0, 1):
            raise RuntimeError(
                f"{' '.join(args)} exited {result.returncode}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
            )

    return run


def python(code: str) -> Callable[[], None]:
    return command(PYTHON, "-c", code)


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        kib = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{platform.system()} {platform.machine()}, {cpus} cores{memory}{', ' + model if model else ''}, "
        f"Python {platform.python_version()}"
    )


TABLE_HEAD = "| measurement | min (s) | median (s) | runs |\n| --- | --- | --- | --- |"
