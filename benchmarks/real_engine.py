"""The real Pulumi CLI beside `ptc preview`, and what building the CLI costs.

- Building: `make tools` from an empty Go build cache (the modules already downloaded: what a CI runner with a
  module cache pays), and again when current (a no-op).
- Previewing: `pulumi preview` (real CLI, stand-in providers, both packs) and `ptc preview` (both packs), of the
  dev stack and of 50 upstreams, in one interleaved loop. Each figure gives wall seconds and the CPU seconds of the
  whole process tree: this process becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so every process a command
  starts, forked relays, pack hosts, packs, language hosts and plugins included, is reaped here and counted in
  RUSAGE_CHILDREN once the tree is gone. The AWS server the real engine's providers call is started once, outside
  the measured tree.
"""

from __future__ import annotations

import ctypes
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from tests.real_engine import PACKS, ROOT, TOOLS, AwsServer, Workspace, available, project_copy

from . import configs
from .timing import PYTHON, Timing

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def children() -> set[int]:
    """This process's children, from /proc (a subreaper's children include the orphans it adopted)."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == me:
                found.add(int(entry))
    return found


def tree(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds until the command exits, CPU seconds of its whole process tree (waited for to the last
    descendant) and the command's exit code."""
    kept = children()  # the AWS server: not part of any measured tree
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code = process.wait()
    wall = time.perf_counter() - start
    # The tree's orphans are this process's children now: reap each, so its CPU is counted. A descendant still
    # running has a parent that is one of them, so the loop ends only when the whole tree has.
    while extra := children() - kept:
        for pid in extra:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, code


def build_times() -> list[str]:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "GOCACHE": cache}
        start = time.perf_counter()
        subprocess.run(["make", "-B", "tools"], cwd=ROOT, env=env, check=True, capture_output=True)
        first = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(["make", "tools"], cwd=ROOT, check=True, capture_output=True)
    current = time.perf_counter() - start
    return [
        f"`make -B tools` from an empty Go build cache (modules already in the module cache): {first:.0f} s "
        "(the CLI, both stand-in language hosts)",
        f"`make tools` when current: {current:.2f} s",
    ]


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    missing = available()
    if missing:
        return [], [f"skipped: {missing}"]
    notes = build_times()
    become_subreaper()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch, AwsServer() as aws:
        folder = Path(scratch)
        workspace = Workspace(folder, aws)
        project = project_copy(folder / "project", ("dev",))
        aws.seed_existing_secrets(project / "Pulumi.dev.yaml")
        workspace.run("stack", "init", "dev", cwd=project)
        document = configs.config(50)
        tokens = document["config"].pop("ecr-pull-through-cache:credentials")
        (project / "Pulumi.bench-50.yaml").write_text(yaml.safe_dump(document))
        workspace.run("stack", "init", "bench-50", cwd=project)
        for prefix in tokens:
            workspace.run(
                "config",
                "set",
                "--stack",
                "bench-50",
                "--secret",
                "--path",
                f"credentials.{prefix}",
                "EXAMPLE-not-a-token",
                cwd=project,
            )
        packs = [arg for pack in PACKS for arg in ("--policy-pack", str(pack))]
        ptc_env = {**os.environ, **workspace.env, "PYTHONPATH": str(ROOT)}
        commands = {
            "`pulumi preview` of dev (real CLI, stand-in providers, 2 packs)": (
                [str(TOOLS / "pulumi"), "--non-interactive", "preview", "--stack", "dev", *packs],
                workspace.env,
            ),
            "`ptc preview` of dev (2 packs)": ([PYTHON, "-m", "ptc", "preview", "--stack", "dev", *packs], ptc_env),
            "`pulumi preview` of 50 upstreams": (
                [str(TOOLS / "pulumi"), "--non-interactive", "preview", "--stack", "bench-50", *packs],
                workspace.env,
            ),
            "`ptc preview` of 50 upstreams": (
                [PYTHON, "-m", "ptc", "preview", "--stack", "bench-50", *packs],
                ptc_env,
            ),
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):
            for name, (args, env) in commands.items():
                wall, cpu, code = tree(args, project, env)
                if code != 0:
                    raise RuntimeError(f"{name} exited {code}")
                walls[name].append(wall)
                cpus[name].append(cpu)
    load_after = os.getloadavg()
    rows = [
        Timing(f"{name} [CPU of the whole tree: {statistics.median(cpus[name]):.2f} s]", walls[name])
        for name in commands
    ]
    names = list(commands)
    median = {name: statistics.median(walls[name]) for name in names}
    notes += [
        f"dev: pulumi preview / ptc preview = {median[names[0]] / median[names[1]]:.2f}x wall, "
        f"{statistics.median(cpus[names[0]]) / statistics.median(cpus[names[1]]):.2f}x CPU",
        f"50 upstreams: pulumi preview / ptc preview = {median[names[2]] / median[names[3]]:.2f}x wall, "
        f"{statistics.median(cpus[names[2]]) / statistics.median(cpus[names[3]]):.2f}x CPU",
        f"machine load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} "
        f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}",
    ]
    return rows, notes


TITLE = "The real Pulumi CLI beside ptc preview (interleaved runs, CPU of the whole process tree)"
HEAD = "| measurement [CPU] | min (s) | median (s) | runs |\n| --- | --- | --- | --- |"
