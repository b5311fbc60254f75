"""Go's own libraries as the tests' oracle (tests/go_oracle): the program is built once per session from the Go
module proxy, as `make tools` builds the Pulumi CLI, and answers a batch of lines per call."""

from __future__ import annotations

import atexit
import os
import subprocess
from functools import cache
from pathlib import Path

import pytest

SOURCE = Path(__file__).with_name("go_oracle")


@cache
def _binary() -> Path | str:
    """The built oracle, or why it could not be built (no Go toolchain, no module proxy)."""
    # One binary per process: pytest-xdist's workers build at once, and must not write one file together.
    target = SOURCE.parents[1] / ".pytest_cache" / "go-oracle" / f"oracle-{os.getpid()}"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    try:
        subprocess.run(
            ["go", "build", "-o", str(target), "."], cwd=SOURCE, env=env, check=True, capture_output=True, timeout=900
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the Go oracle did not build: {exc}"
    atexit.register(target.unlink, missing_ok=True)
    return target


def ask(mode: str, lines: list[str]) -> list[str]:
    """Go's answer to each line (`reference`, `config-float`; see main.go); skips the test where Go is absent."""
    binary = _binary()
    if isinstance(binary, str):
        pytest.skip(binary)
    text = "".join(f"{line}\n" for line in lines)
    answer = subprocess.run([str(binary), mode], input=text, capture_output=True, text=True, check=True, timeout=300)
    return answer.stdout.splitlines()
