"""The release: one version everywhere, a CHANGELOG entry per release, the workflow that publishes it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecr_pull_through_cache import __version__
from tests.conftest import ROOT


def release_module():
    spec = importlib.util.spec_from_file_location("release", ROOT / "tools" / "release.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = release_module()


def test_the_license_is_the_apache_license_pyproject_names():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert 'license = { text = "Apache-2.0" }' in (ROOT / "pyproject.toml").read_text()


def test_every_file_carries_the_packages_version_and_the_changelog_has_it():
    assert set(release.versions(ROOT).values()) == {__version__}
    assert release.check(ROOT, f"v{__version__}") == __version__
    assert release.notes(ROOT, __version__).strip()
    run = subprocess.run(
        [sys.executable, "tools/release.py", "check", f"v{__version__}"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for path in (*release.FILES, "CHANGELOG.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, tmp_path / path)
    return tmp_path


@pytest.mark.parametrize("tag", ["0.1.0", "v0.1", "v0.1.0\n", "release-0.1.0", "v0.1.0-beta", ""])
def test_a_tag_that_is_not_a_version_is_refused(copy, tag, capsys):
    assert release.main(["check", tag], copy) == 1
    assert "is not vMAJOR.MINOR.PATCH" in capsys.readouterr().err


def test_a_tag_other_than_the_version_names_every_file_that_differs(copy, capsys):
    pack = copy / release.PACKS[1]
    pack.write_text(pack.read_text().replace(f"version: {__version__}", "version: 9.9.8"))
    assert release.main(["check", "v9.9.9"], copy) == 1
    error = capsys.readouterr().err
    assert f"components/__init__.py has {__version__}" in error
    assert f"{release.PACKS[1]} has 9.9.8" in error and "set 9.9.9 in each" in error


def test_a_version_without_a_changelog_section_is_refused(copy, capsys):
    for path in release.FILES:
        file = copy / path
        file.write_text(file.read_text().replace(__version__, "0.2.0"))
    assert release.main(["check", "v0.2.0"], copy) == 1
    assert "CHANGELOG.md has no '## [0.2.0] - YYYY-MM-DD' section" in capsys.readouterr().err
    changelog = copy / "CHANGELOG.md"
    text = changelog.read_text()
    released = text.index("\n## [0.1.0]")  # after whatever [Unreleased] holds today
    changelog.write_text(text[:released] + "\n## [0.2.0] - 2027-01-04\n\n- Fixed it.\n" + text[released:])
    assert release.main(["notes", "v0.2.0"], copy) == 0
    assert capsys.readouterr().out == "- Fixed it.\n"


def test_the_release_workflow_checks_tests_and_publishes_the_wheel_and_both_packs():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    build = "\n".join(str(step.get("run", "")) for step in jobs["build"]["steps"])
    order = ["tools/release.py check", "make lint", "make test", "pip wheel", "ptc --version"]
    assert [build.index(part) for part in order] == sorted(build.index(part) for part in order)
    # Only the publishing job can mint an OIDC token, and it uploads exactly what was built and tested.
    assert jobs["pypi"]["permissions"] == {"id-token": "write"} and jobs["pypi"]["needs"] == "build"
    assert [s["uses"].split("@")[0] for s in jobs["pypi"]["steps"]] == [
        "actions/download-artifact",
        "pypa/gh-action-pypi-publish",
    ]
    packs = jobs["policy-packs"]
    assert packs["strategy"]["matrix"]["pack"] == ["security", "conventions"]
    publish = next(s for s in packs["steps"] if "pulumi policy publish" in str(s.get("run")))
    assert publish["working-directory"] == "policies/${{ matrix.pack }}"
    assert "--version 3.276.0" in str(packs["steps"])
    assert jobs["github-release"]["needs"] == ["pypi", "policy-packs"]
    assert "tools/release.py notes" in str(jobs["github-release"]["steps"])
