"""The shape the product code keeps (issue 28): no function longer than 80 lines. Cyclomatic complexity (at most 20)
is held by ruff (pyproject.toml: C901, max-complexity 20)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PRODUCT = ("components", "ptc", "policies")
MAX_LINES = 80


def product_files() -> list:
    files = [p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py") if "venv" not in p.parts]
    return [*files, ROOT / "__main__.py"]


def test_no_product_function_is_longer_than_80_lines():
    long = []
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these into named steps: " + "; ".join(long)
