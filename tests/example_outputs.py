"""The cache stacks' outputs the examples preview against (`ptc preview --stack-outputs NAME=FILE`).

Each file is what `pulumi stack output --json` prints for the named stack of this project, made by the mock engine
from the committed stack file (an `up`, so every value is known). `tests/test_examples.py` fails when a file is out
of date; rewrite them with:

    .venv/bin/python -m tests.example_outputs
"""

from __future__ import annotations

import json

from ptc.mock_engine import run_program
from tests.conftest import ROOT, stack_config, stack_file

FILES = {
    ROOT / "examples" / "consumer" / "cache-outputs.json": "dev",
    ROOT / "examples" / "upstream-grant" / "cache-outputs.json": "prod",
}


def outputs_text(stack: str) -> str:
    result = run_program(ROOT, stack_config(stack_file(stack), stack), preview=False)
    if result.error is not None:
        raise SystemExit(f"the {stack} stack does not run: {result.error}")
    return json.dumps(result.plain_outputs, indent=2, sort_keys=True) + "\n"


def main() -> None:
    for path, stack in FILES.items():
        path.write_text(outputs_text(stack))
        print(f"wrote {path.relative_to(ROOT)} from the {stack} stack")


if __name__ == "__main__":
    main()
