"""`ptc preview` against the bare SDK import, as upstreams grow, and over every stack of the repository.

Every command is measured in one interleaved loop (a round runs each once, in turn), so machine noise falls on
all of them alike. Each figure names its command and its baseline; the peak memory (max RSS of the command's own
process: the relay, pack host and packs `ptc` forks share its pages and are not waited for, so not counted) is
recorded beside the time, and the machine's load average before and after.
Ratios compare like with like: `ptc preview` (program + AWS checks + both packs) against the bare import
`python -c "import pulumi, pulumi_aws"`, and against itself at other sizes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ptc.stack_config import stack_names

from . import configs
from .timing import PYTHON, ROOT, Timing

UPSTREAMS = (1, 5, 10, 25, 50)
CURVE = (50, 100, 200)
"""In-process program runs beyond ECR's 50-rule quota (cap lifted for the curve only)."""


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of a command (and of the children it waited for)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{' '.join(args)} exited {code}: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return elapsed, usage.ru_maxrss


ROLES = ("ptc", "relay", "pack host", "packs")


def cpu_by_process(args: list[str]) -> dict[str, float]:
    """CPU seconds (user + system) of `ptc` and of each process it started, by role in the tree: ptc, the relay it
    forks, the pack host the relay forks, the packs the host forks. Sampled from /proc every 5 ms: a process's last
    few milliseconds can go uncounted."""
    tick = os.sysconf("SC_CLK_TCK")
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    depth: dict[int, int] = {process.pid: 0}
    cpu: dict[int, float] = {}
    while process.poll() is None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, parent = int(entry), int(fields[1])
            if pid not in depth and parent in depth:
                depth[pid] = depth[parent] + 1
            if pid in depth:
                cpu[pid] = max(cpu.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / tick)
        time.sleep(0.005)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}")
    totals = dict.fromkeys(ROLES, 0.0)
    for pid, seconds in cpu.items():
        totals[ROLES[min(depth[pid], len(ROLES) - 1)]] += seconds
    return totals


def _project_without_packs(directory: Path) -> Path:
    """This project without its policy packs: every top-level entry linked, `policies/` left out."""
    directory.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("policies", ".git", ".venv"):
            (directory / entry.name).symlink_to(entry)
    return directory


def interleaved(
    commands: dict[str, list[str]], repeat: int, envs: dict[str, dict[str, str]] | None = None
) -> tuple[dict[str, Timing], dict[str, int]]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    memory: dict[str, list[int]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, args in commands.items():
            seconds, rss = _run(args, (envs or {}).get(name))
            samples[name].append(seconds)
            memory[name].append(rss)
    return (
        {name: Timing(name, values) for name, values in samples.items()},
        {name: max(values) for name, values in memory.items()},
    )


CURVE_SCRIPT = """
import json, sys, time, tempfile
from pathlib import Path
import ecr_pull_through_cache.config as settings
settings.MAX_RULES = 1000  # for the curve only: ECR allows 50
from benchmarks import configs
from ptc.mock_engine import run_program
from ptc.stack_config import load_stack_config
count = int(sys.argv[1])
with tempfile.TemporaryDirectory() as scratch:
    config = load_stack_config(Path('.'), config_file=configs.write(Path(scratch), count))
    run_program(Path('.'), load_stack_config(Path('.'), config_file=configs.write(Path(scratch), 1)), preview=True)
    start = time.perf_counter()
    result = run_program(Path('.'), config, preview=True, collect=False)  # as `ptc preview` runs its last stack
    assert result.error is None, result.error
    print(json.dumps({"seconds": time.perf_counter() - start, "resources": len(result.resources)}))
"""


def curve(repeat: int) -> list[tuple[int, float, int]]:
    """(upstreams, median seconds, resources) of the program alone, warm, in-process."""
    import json

    points = []
    for count in CURVE:
        runs = []
        for _ in range(max(1, min(repeat, 3))):
            out = subprocess.run(
                [PYTHON, "-c", CURVE_SCRIPT, str(count)], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        points.append((count, statistics.median(r["seconds"] for r in runs), runs[0]["resources"]))
    return points


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        commands = {
            'bare SDK import: `python -c "import pulumi, pulumi_aws"`': [PYTHON, "-c", "import pulumi, pulumi_aws"],
            "`ptc preview --stack dev --json` (program + AWS checks + 2 packs)": [
                PYTHON,
                "-m",
                "ptc",
                "preview",
                "--stack",
                "dev",
                "--json",
            ],
            "`ptc preview --stack dev` (the same, human output)": [PYTHON, "-m", "ptc", "preview", "--stack", "dev"],
        }
        for count in UPSTREAMS:
            path = configs.write(Path(scratch), count)
            commands[f"`ptc preview --json` of {count} upstreams"] = [
                PYTHON,
                "-m",
                "ptc",
                "preview",
                "--config",
                str(path),
                "--json",
            ]
        bare_project = _project_without_packs(Path(scratch) / "no-packs")
        for count in (5, 50):
            commands[f"`ptc preview --json` of {count} upstreams, no packs (the project without policies/)"] = [
                *commands[f"`ptc preview --json` of {count} upstreams"],
                "-C",
                str(bare_project),
            ]
        in_process = "`ptc preview --json` of 50 upstreams, packs called from ptc's own process (PTC_PACK_RELAY=0)"
        commands[in_process] = commands["`ptc preview --json` of 50 upstreams"]
        envs = {in_process: {"PTC_PACK_RELAY": "0"}}
        stacks = stack_names(ROOT)
        commands["every stack in one process: `ptc preview --all --json`"] = [
            PYTHON,
            "-m",
            "ptc",
            "preview",
            "--all",
            "--json",
        ]
        timings, memory = interleaved(commands, repeat, envs)
        samples = [cpu_by_process(commands["`ptc preview --json` of 50 upstreams"]) for _ in range(3)]
        split = {role: statistics.median(s[role] for s in samples) for role in ROLES}
    load_after = os.getloadavg()

    names = list(commands)
    bare, dev_json = timings[names[0]], timings[names[1]]
    rows = []
    for name in names:
        timing = timings[name]
        rows.append(Timing(f"{name} [peak {memory[name] / 1024:.0f} MiB]", timing.samples))
    scaling = {count: timings[f"`ptc preview --json` of {count} upstreams"] for count in UPSTREAMS}
    no_packs = {
        count: timings[f"`ptc preview --json` of {count} upstreams, no packs (the project without policies/)"]
        for count in (5, 50)
    }
    notes = [
        f"dev: `ptc preview --json` / bare SDK import = {dev_json.median / bare.median:.2f}x (goal at most 2.0x); "
        f"human output / bare = {timings[names[2]].median / bare.median:.2f}x",
        f"50 upstreams / 5 upstreams = {scaling[50].median / scaling[5].median:.2f}x (goal at most 2.0x); "
        f"the same without packs (the program and AWS checks alone) = "
        f"{no_packs[50].median / no_packs[5].median:.2f}x; the packs add "
        f"{(scaling[5].median - no_packs[5].median) * 1000:.0f} ms at 5 upstreams and "
        f"{(scaling[50].median - no_packs[50].median) * 1000:.0f} ms at 50",
        "per-upstream marginal cost: "
        + ", ".join(
            f"{a}->{b}: {(scaling[b].median - scaling[a].median) / (b - a) * 1000:.1f} ms"
            for a, b in zip(UPSTREAMS, UPSTREAMS[1:], strict=False)
        ),
        f"50 upstreams, the relay (the default) / packs called from ptc's process = "
        f"{scaling[50].median / timings[in_process].median:.2f}x",
        f"`--all` over {len(stacks)} stacks / dev alone = "
        f"{timings[names[-1]].median / dev_json.median:.2f}x (the pack host is shared by every stack)",
    ]
    notes.append(
        "CPU seconds at 50 upstreams, by process (median of 3, sampled from /proc): "
        + ", ".join(f"{role} {seconds:.2f}" for role, seconds in split.items())
        + f"; {sum(split.values()):.2f} in all, on {os.cpu_count()} cores"
    )
    points = curve(repeat)
    per = [(count, seconds / count * 1000) for count, seconds, _ in points]
    notes.append(
        "program alone, warm, in-process (rule cap lifted for the curve): "
        + ", ".join(
            f"{count} upstreams {seconds:.3f} s ({resources} resources, {ms:.1f} ms per upstream)"
            for (count, seconds, resources), (_, ms) in zip(points, per, strict=True)
        )
    )
    notes.append(f"200 / 50 upstreams = {points[-1][1] / points[0][1]:.2f}x for 4x the upstreams (linear: 4.0x)")
    notes.append(
        f"machine load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} "
        f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    return rows, notes


TITLE = "ptc preview against the bare SDK import (interleaved runs)"
HEAD = "| measurement [peak memory] | min (s) | median (s) | runs |\n| --- | --- | --- | --- |"
