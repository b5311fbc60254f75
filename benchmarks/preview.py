"""`ptc preview` against its floor: interpreter + SDK import + one policy pack start."""

from __future__ import annotations

from .timing import PYTHON, TABLE_HEAD, Timing, command, measure, python

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


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    preview = measure("`ptc preview --stack dev` (program + 2 packs, 44 resources)",
                      command(PYTHON, "-m", "ptc", "preview", "--stack", "dev"), repeat)
    floor = measure("floor: interpreter + SDK import + one pack start", python(FLOOR), repeat)
    plain = measure("plain mock-engine run + one analyzer pass (sequential)", python(MOCK_PLUS_ONE_PASS), repeat)
    notes = [
        f"`ptc preview` / floor: {preview.median / floor.median:.2f}x (median), {preview.min / floor.min:.2f}x (min)",
        f"`ptc preview` / (mock-engine run + one analyzer pass): {preview.median / plain.median:.2f}x (median), "
        f"{preview.min / plain.min:.2f}x (min); target at most 1.5x",
    ]
    return [preview, floor, plain], notes


TITLE = "ptc preview against its floor"
HEAD = TABLE_HEAD
