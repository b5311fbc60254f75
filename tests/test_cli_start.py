"""ptc started by a Python that cannot run it: a clear refusal with the fix, never an ImportError traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ptc import dependencies
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    home = tmp_path_factory.mktemp("bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True)
    return str(home / "bin" / "python")


@pytest.mark.parametrize("args", [["preview"], ["--version"], ["image", "nginx"], []])
def test_python_m_ptc_without_its_dependencies_says_how_to_install(bare_python, args):
    run = subprocess.run([bare_python, "-m", "ptc", *args], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "unexpectedly" not in run.stderr
    assert "lacks ecr-pull-through-cache, pulumi" in run.stderr
    assert "make install" in run.stderr and ".venv/bin/ptc" in run.stderr and "pipx install" in run.stderr


def test_a_missing_or_broken_module_counts_as_absent(monkeypatch):
    assert dependencies.missing() == []

    def find_spec(name):
        if name == "rich":
            return None
        if name == "regex":
            raise ValueError("regex.__spec__ is None")
        return object()

    monkeypatch.setattr(dependencies, "find_spec", find_spec)
    assert dependencies.missing() == ["rich", "regex"]


def test_every_runtime_dependency_of_the_package_is_asked_for():
    """The list the refusal checks covers pyproject's dependencies (the Pulumi providers a verb never imports aside)."""
    import re

    text = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r"^dependencies = \[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert declared
    names = {re.split(r"[<>=!~ ]", item.strip().strip('",'), maxsplit=1)[0] for item in declared[1].splitlines()}
    names.discard("")
    asked = {distribution for _, distribution in dependencies.MODULES}
    assert names - asked <= {"pulumi-random", "pulumi-gitlab"}, names - asked
