"""Does each performance layer pay? An interleaved A/B of the 50-upstream `ptc preview`, one switch at a time.

Issue 28's rule: a layer stays only if it buys at least 10 % of the 50-upstream preview. Every variant runs once
per round, in turn, so machine noise falls on all of them alike. Two figures per variant:
- wall: the seconds until `ptc preview` exits (what a user waits for);
- CPU: user + system seconds of the whole process tree (ptc, and the relay, pack host and packs it forks, sampled
  from /proc until ptc exits), what the layer costs a loaded CI runner. Measured in separate runs, so the
  sampling does not slow the wall-clock runs.
Each layer is switched off with the environment switch it has always had; the baseline is "as shipped".
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from . import configs
from .preview import _run, cpu_by_process
from .timing import PYTHON, Timing

TITLE = "Performance layers, interleaved A/B (50 upstreams, `ptc preview`)"
HEAD = "| variant | min (s) | median (s) | runs |\n| --- | --- | --- | --- |"
UPSTREAMS = 50

VARIANTS: dict[str, dict[str, str]] = {
    "as shipped": {},
    "without the relay (PTC_PACK_RELAY=0)": {"PTC_PACK_RELAY": "0"},
}
"""Each remaining layer's switch. The pack host (PTC_PACK_HOST=0), the packs' speedups (PTC_PACK_SPEEDUPS=0) and
their niceness (PTC_PACK_NICE=0) were measured here and removed with their switches (benchmarks/LAYERS.md)."""


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    import os

    with tempfile.TemporaryDirectory() as scratch:
        config = configs.write(Path(scratch), UPSTREAMS)
        args = [PYTHON, "-m", "ptc", "preview", "--config", str(config), "--json"]
        wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
        cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
        _run(args)  # warm the disk cache and the packs' bytecode
        for _ in range(repeat):
            for name, env in VARIANTS.items():
                wall[name].append(_run(args, env)[0])
            for name, env in VARIANTS.items():
                saved = {key: os.environ.get(key) for key in env}
                os.environ.update(env)
                try:
                    cpu[name].append(sum(cpu_by_process(args).values()))
                finally:
                    for key, value in saved.items():
                        if value is None:
                            os.environ.pop(key, None)
                        else:
                            os.environ[key] = value
    timings = [Timing(f"{name}: wall", wall[name]) for name in VARIANTS]
    timings += [Timing(f"{name}: CPU of the process tree", cpu[name]) for name in VARIANTS]
    base_wall, base_cpu = statistics.median(wall["as shipped"]), statistics.median(cpu["as shipped"])
    notes = []
    for name in VARIANTS:
        if name != "as shipped":
            gain_wall = statistics.median(wall[name]) / base_wall
            gain_cpu = statistics.median(cpu[name]) / base_cpu
            notes.append(f"{name}: wall x{gain_wall:.2f}, CPU x{gain_cpu:.2f} of as shipped (above 1.10: it pays)")
    return timings, notes
