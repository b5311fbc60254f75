"""`ptc preview`: against its floor, as upstreams grow to the quota, and over every stack of the repository."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ptc.stack_config import stack_names

from . import configs
from .timing import PYTHON, ROOT, TABLE_HEAD, Timing, command, measure, python

FLOOR = """
import pulumi, pulumi_aws
from pathlib import Path
from ptc.analyzer import EngineServer, PackProcess
from ptc.stack_config import load_stack_config
config = load_stack_config(Path('.'), stack='dev')
engine = EngineServer()
pack = PackProcess(Path('policies/security'), config, dry_run=True, engine_address=engine.address)
pack.connect(); pack.close(); engine.stop()
"""

MOCK_PLUS_ONE_PASS = """
from pathlib import Path
from ptc.analyzer import EngineServer, PackProcess
from ptc.mock_engine import run_program
from ptc.stack_config import load_stack_config
config = load_stack_config(Path('.'), stack='dev')
result = run_program(Path('.'), config, preview=True)
engine = EngineServer()
pack = PackProcess(Path('policies/security'), config, dry_run=True, engine_address=engine.address)
pack.connect()
for resource in result.resources:
    pack.analyze(resource)
pack.analyze_stack(result.resources, outputs=False)
pack.close(); engine.stop()
"""

UPSTREAMS = (1, 5, 10, 25, 50)


def ptc_preview(*args: str):
    return command(PYTHON, "-m", "ptc", "preview", *args)


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    preview = measure("`ptc preview --stack dev` (program + 2 packs)", ptc_preview("--stack", "dev"), repeat)
    floor = measure("floor: interpreter + SDK import + one pack start", python(FLOOR), repeat)
    plain = measure("plain mock-engine run + one analyzer pass (sequential)", python(MOCK_PLUS_ONE_PASS), repeat)
    timings = [preview, floor, plain]
    notes = [
        f"dev stack: `ptc preview` / floor = {preview.median / floor.median:.2f}x (median); / (plain mock run + one "
        f"analyzer pass) = {preview.median / plain.median:.2f}x (target at most 1.5x)",
    ]

    scaling: dict[int, Timing] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for count in UPSTREAMS:
            path = configs.write(Path(scratch), count)
            scaling[count] = measure(f"`ptc preview` of {count} upstreams", ptc_preview("--config", str(path)), repeat)
    timings += scaling.values()
    marginal = (scaling[50].median - scaling[1].median) / 49
    notes += [
        f"50 upstreams / 5 upstreams = {scaling[50].median / scaling[5].median:.2f}x (target at most 2.5x)",
        f"marginal cost per upstream (1 to 50): {marginal * 1000:.1f} ms; 50 upstreams / floor = "
        f"{scaling[50].median / floor.median:.2f}x",
        "per-step marginal cost: " + ", ".join(
            f"{a}->{b}: {(scaling[b].median - scaling[a].median) / (b - a) * 1000:.1f} ms"
            for a, b in zip(UPSTREAMS, UPSTREAMS[1:], strict=False)),
    ]

    stacks = stack_names(ROOT)
    one_by_one = measure(f"every stack one after another ({', '.join(stacks)}): {len(stacks)} x `ptc preview`",
                         lambda: [ptc_preview("--stack", s)() for s in stacks], repeat)
    together = measure("every stack in one process: `ptc preview --all`", ptc_preview("--all"), repeat)
    timings += [one_by_one, together]
    notes.append(f"`--all` / one after another = {together.median / one_by_one.median:.2f}x")
    return timings, notes


TITLE = "ptc preview: floor, upstreams up to the quota, every stack"
HEAD = TABLE_HEAD
