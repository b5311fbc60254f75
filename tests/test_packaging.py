"""Installed the way people install it: the wheel in a clean virtualenv, `ptc` run from elsewhere.

The wheel is built from a copy of the sources (nothing written into the clone) without build
isolation, and installed with `--no-deps` into a fresh virtualenv whose dependencies come from this
project's `.venv` through a `.pth` line: the test needs no network and still runs the installed
code, not the clone's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "components", "ptc", "policies")
IMPORT_NAME = "ecr_pull_through_cache"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "venv"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", out, source],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with only the wheel installed; its dependencies are the project's pinned ones."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", home], check=True)
    purelib = Path(
        subprocess.check_output(
            [home / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # A plain path line: .venv's own .pth files (the editable install of this clone) are not processed.
    (purelib / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", home / "bin" / "python", "install", "--quiet", "--no-deps", wheel],
        check=True,
        capture_output=True,
    )
    return home


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PULUMI_", "PTC_"))}
    return env


def test_the_wheel_carries_the_license(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        licenses = [name for name in archive.namelist() if name.endswith("/LICENSE") and ".dist-info/" in name]
    assert licenses, "the wheel has no LICENSE (setuptools takes LICENSE* from the project root)"


def test_the_wheel_has_one_top_level_package_and_ranges_not_pins(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    top_level = {name.split("/", 1)[0] for name in names if ".dist-info/" not in name}
    assert top_level == {IMPORT_NAME}, "nothing else (no `components`, no `ptc`) lands in site-packages"
    assert f"{IMPORT_NAME}/ptc/cli.py" in names and f"{IMPORT_NAME}/catalog.py" in names
    for pack in ("security", "conventions"):  # the packs travel with the tool, each whole (data files too)
        files = [f.name for f in (ROOT / "policies" / pack).iterdir() if f.is_file()]
        assert {"PulumiPolicy.yaml", "requirements.txt", "__main__.py"} <= set(files)
        assert not [f for f in files if f"{IMPORT_NAME}/packs/{pack}/{f}" not in names]
    assert requires and not [r for r in requires if "==" in r], "installers get compatible ranges, not pins"


def test_the_pins_make_installs_satisfy_the_declared_ranges() -> None:
    """requirements.txt (what `make` installs) stays inside pyproject's ranges, or a user resolves another stack."""
    ranges = {
        Requirement(r).name.lower(): Requirement(r).specifier
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("./"):  # a distribution of this repository (the packs' support): its own version
            project = tomllib.loads((ROOT / line / "pyproject.toml").read_text())["project"]
            pins[project["name"].lower()] = project["version"]
        elif line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[requirement.name.lower()] = next(iter(requirement.specifier)).version
    assert set(pins) == set(ranges), "the same packages, pinned and ranged"
    for name, version in pins.items():
        assert ranges[name].contains(version), f"{name}=={version} is outside {ranges[name]}"


def test_installed_ptc_previews_a_project_from_any_directory(venv: Path, tmp_path: Path) -> None:
    """A project of one's own (no components/ or ptc/ folders): the program imports the installed library."""
    project = tmp_path / "my-cache"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "policies", project / "policies", ignore=shutil.ignore_patterns("venv", "__pycache__"))
    (project / "deep" / "er").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ptc = venv / "bin" / "ptc"

    for cwd, extra in ((project / "deep" / "er", []), (elsewhere, ["-C", str(project)])):
        run = subprocess.run(
            [ptc, "preview", "--json", *extra], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr[-2000:]
        report = json.loads(run.stdout)
        types = {resource["type"] for resource in report["resources"]}
        assert "aws:ecr/pullThroughCacheRule:PullThroughCacheRule" in types
        assert report["violations"] == [] or all(v["level"] != "mandatory" for v in report["violations"])

    none = subprocess.run([ptc, "preview"], cwd=elsewhere, env=clean_env(), capture_output=True, text=True)
    assert none.returncode == 2
    assert "no Pulumi.yaml" in none.stderr and "-C DIR" in none.stderr and "Traceback" not in none.stderr


def test_a_throwaway_program_imports_the_library_beside_its_own_components_module(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "components.py").write_text("NAME = 'the program’s own module'\n")
    (tmp_path / "ptc.py").write_text("NAME = 'another ptc'\n")
    (tmp_path / "program.py").write_text(
        "import components, ptc\n"
        "import ecr_pull_through_cache\n"
        "from ecr_pull_through_cache.images import rewrite_image\n"
        "registry = '123456789012.dkr.ecr.us-east-2.amazonaws.com'\n"
        "outputs = {'registry_url': registry, 'upstreams': {'docker-hub': {'kind': 'docker-hub',\n"
        "    'upstream_url': 'registry-1.docker.io', 'cache_uri': registry + '/docker-hub',\n"
        "    'upstream_prefix': None}}}\n"
        "print(components.NAME, '|', ptc.NAME, '|', rewrite_image('nginx:1.27', outputs), '|',\n"
        "    ecr_pull_through_cache.__file__)\n"
    )
    run = subprocess.run(
        [venv / "bin" / "python", "program.py"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    own, other, image, where = (part.strip() for part in run.stdout.split("|"))
    assert own == "the program’s own module" and other == "another ptc"
    assert image == "123456789012.dkr.ecr.us-east-2.amazonaws.com/docker-hub/library/nginx:1.27"
    assert str(venv) in where, "the installed copy, not the clone"


def test_installed_ptc_runs_its_own_packs_on_a_project_without_any(venv: Path, tmp_path: Path) -> None:
    """A scratch project of one's own, no policies/ folder: `ptc preview` runs the packs installed with it, names
    them, and blocks an `ecr:*` grant (exit 1); `ptc --version` says which release it is."""
    project = tmp_path / "scratch"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: scratch\nruntime:\n  name: python\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-2\n")
    (project / "__main__.py").write_text(
        "import json\nimport pulumi_aws as aws\n"
        "aws.iam.Policy('admin', policy=json.dumps({'Version': '2012-10-17', 'Statement': "
        "[{'Effect': 'Allow', 'Action': 'ecr:*', 'Resource': '*'}]}))\n"
    )
    ptc = venv / "bin" / "ptc"
    run = subprocess.run([ptc, "preview"], cwd=project, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "cache-permissions-scoped" in run.stdout and "grants ecr:*" in run.stdout
    assert "Policy packs: ecr-ptc-conventions@0.1.0, ecr-ptc-security@0.1.0" in run.stdout
    assert "policies passed" not in run.stdout
    version = subprocess.run([ptc, "--version"], env=clean_env(), capture_output=True, text=True)
    from ecr_pull_through_cache import __version__

    assert version.stdout.strip() == f"ptc (ecr-pull-through-cache) {__version__}"
