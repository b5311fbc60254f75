"""Pulumi.yaml as the Pulumi CLI reads it: validated against the CLI's own project schema before anything runs.

`ptc` refuses a project file the CLI refuses (sdk/go/common/workspace/loaders.go, LoadProjectBytes ->
ValidateProject), naming each fault at the JSON pointer the CLI names, instead of failing somewhere inside with
"failed unexpectedly" (a `config: 5` once did).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.yaml12 import stack_dir
from ptc.mock_engine import program_entry
from ptc.project_rules import PROJECT_SCHEMA
from ptc.stack_config import StackConfigError, load_project
from tests import go_oracle, real_engine
from tests.conftest import ROOT

BAD_PROJECTS = [
    ("name: x\nruntime: python\nconfig: 5\n", ["#/config"]),
    (
        "name: x\nruntime: python\nstackConfigDir: [1]\nwebsite: 5\nmain: 3\n",
        ["#/main", "#/stackConfigDir", "#/website"],
    ),
    ("name: x\nruntime: 5\n", ["#/runtime"]),
    ("name: x\nruntime: {name: python, options: 5}\n", ["#/runtime"]),
    ("name: x\nruntime: python\nbackend: [1]\n", ["#/backend"]),
    ("name: x\nruntime: python\nconfig: {a: {type: string, default: 1, description: [2]}}\n", ["#/config/a"]),
    ("namee: x\nruntime: python\n", ["found 'namee' instead"]),
    ("name: ''\nruntime: python\n", ["non-empty string 'name'"]),
    ("name: x\nruntime: python\nconfig: folder\nstackConfigDir: other\n", ["should not use both"]),
]


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("text", "named"), BAD_PROJECTS)
def test_a_project_file_the_cli_refuses_is_refused_naming_each_fault(tmp_path, text, named):
    with pytest.raises(StackConfigError) as refused:
        load_project(_project(tmp_path, text))
    for fault in named:
        assert fault.lower() in str(refused.value).lower()


@pytest.mark.real_engine
@pytest.mark.e2e
def test_the_real_cli_refuses_the_same_project_files_at_the_same_places(tmp_path):
    """The differential: each bad file goes to the real CLI (`pulumi stack ls` loads and validates the project) and
    to `ptc`; both refuse, and every JSON pointer the CLI names, ptc names too."""
    if real_engine.available() is not None:
        pytest.skip(real_engine.available())
    env = {
        **os.environ,
        "PULUMI_HOME": str(tmp_path / "home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "NO_COLOR": "1",
    }
    (tmp_path / "state").mkdir()
    for index, (text, _) in enumerate(BAD_PROJECTS):
        project = tmp_path / f"p{index}"
        project.mkdir()
        _project(project, text)
        cli = subprocess.run(
            [str(real_engine.TOOLS / "pulumi"), "--non-interactive", "stack", "ls"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert cli.returncode != 0, text
        with pytest.raises(StackConfigError) as refused:
            load_project(project)
        for pointer in re.findall(r"(#/[A-Za-z0-9_/]*):", cli.stderr):
            assert f"{pointer}:" in str(refused.value), (text, cli.stderr)


def test_the_schema_is_the_clis_own_copy():
    """The copy under ptc/ is the CLI's file byte for byte, at the version `make tools` builds (tools/go.mod)."""
    version = re.search(r"github.com/pulumi/pulumi/sdk/v3 (v[0-9.]+)", (ROOT / "tools" / "go.mod").read_text())
    assert version is not None
    cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=False).stdout.strip()
    source = Path(cache) / f"github.com/pulumi/pulumi/sdk/v3@{version[1]}/go/common/workspace/project.json"
    if not source.is_file():
        pytest.skip(f"{source} is not in the Go module cache (make tools downloads it)")
    assert PROJECT_SCHEMA.read_bytes() == source.read_bytes()


def test_the_committed_projects_are_valid():
    for path in [ROOT, *(p.parent for p in (ROOT / "examples").glob("*/Pulumi.yaml"))]:
        load_project(path)


def test_config_as_a_folder_is_the_old_spelling_of_stack_config_dir(tmp_path):
    project = load_project(_project(tmp_path, "name: x\nruntime: python\nconfig: stacks\n"))
    assert project["stackConfigDir"] == "stacks" and project["config"] is None
    assert stack_dir(tmp_path) == tmp_path / "stacks"


_KEYS = st.sampled_from(["name", "runtime", "main", "config", "stackConfigDir", "backend", "options", "x"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_project_file_is_read_or_refused_never_a_crash(tmp_path_factory, document):
    """Whatever Pulumi.yaml holds: `ptc` loads it or refuses it with the CLI's reasons; where it reads the stack
    files and the program from never fails."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        project = load_project(folder)
    except StackConfigError as refused:
        assert "Traceback" not in str(refused)
    else:
        assert isinstance(project["name"], str) and project["name"]
        assert not isinstance(project.get("config"), str)
    stack_dir(folder)
    program_entry(folder)
    json.dumps(document)  # the strategy made JSON-like documents only


def _cli_project(tmp_path: Path, pulumi_yaml: str, stack: str | None = "dev") -> tuple[real_engine.Workspace, Path]:
    """A project with a program that registers nothing, in a workspace of the real CLI (with `stack` made)."""
    if real_engine.available() is not None:
        pytest.skip(real_engine.available())
    workspace = real_engine.Workspace(tmp_path)
    project = tmp_path / "p"
    project.mkdir()
    (project / "__main__.py").write_text("")
    (project / "Pulumi.yaml").write_text(pulumi_yaml)
    if stack is not None:
        workspace.run("stack", "init", stack, cwd=project)
    return workspace, project


# ---------------------------------------------------------------------------------------------- config values

DECLARED = (
    "name: p\nruntime: python\nconfig:\n  environment: {type: string}\n"
    "  secret_recovery_window_days: {type: integer, default: 30}\n"
    "  random_prefix_suffix: {type: boolean, default: false}\n"
)
STACK_CASES = [
    # (Pulumi.yaml, the stack's config block)
    (
        DECLARED,
        "  p:environment: 42\n  p:secret_recovery_window_days: 30.0\n  p:tags: {b: 1.0, a: [true, 1e21, 0.1]}\n",
    ),
    (
        DECLARED,
        "  p:environment: true\n  p:secret_recovery_window_days: '+7'\n  p:tags: {x: -0.0, y: 5e-07, z: 1.25}\n",
    ),
    (DECLARED, "  p:environment: dev\n  p:random_prefix_suffix: yes\n"),
    (DECLARED, "  p:environment: dev\n  p:secret_recovery_window_days: 3x\n"),
    (DECLARED, "  p:environment:\n"),
    (DECLARED, "  p:environment: dev\n  p:secret_recovery_window_days: 1e21\n"),
    (DECLARED, "  p:environment: dev\n  p:secret_recovery_window_days: 30.5\n"),
    (DECLARED + "  x: {type: integer, default: 'x'}\n", "  p:environment: dev\n"),
    (DECLARED + "  aws:region: {type: string}\n", "  p:environment: dev\n"),
    (DECLARED + "  x: {type: array}\n", "  p:environment: dev\n"),
    (DECLARED + "  x: {default: 1, value: 2}\n", "  p:environment: dev\n"),
    (DECLARED + "  x: {type: array, items: {type: integer}, default: [1, '2', 3.0]}\n", "  p:environment: dev\n"),
    (DECLARED + "  x: {type: string, default: null}\n", "  p:environment: dev\n"),
    (DECLARED + "  x: {type: string, value: v}\n", "  p:environment: dev\n"),
    (DECLARED + "  x: 5\n  aws:region: us-east-2\n", "  p:environment: dev\n"),
    (DECLARED + "  x: {type: object, default: {a: 1.0}}\n", "  p:environment: dev\n"),
    (DECLARED, "  p:config:environment: dev\n  aws:config:region: us-east-2\n"),
    (DECLARED, "  p:environment: dev\n  p:x:y: 1\n"),
    (DECLARED, "  p:environment: dev\n  p:d: 2026-12-02\n  p:o: 0777\n  p:m: {u: 1_000, b: 0b101, e: 08, on: yes}\n"),
    (DECLARED, "  p:environment: dev\n  p:tags: {secure: 5}\n  p:more: {secure: v1:abc, other: 1}\n"),
    (DECLARED, "  p:environment: dev\n  p:tags: {secure: ''}\n"),
]
TWICE = "  environment: dev\n  p:environment: prod\n"
"""The one place ptc is stricter than the CLI, on purpose (issue 31): a bare key and its namespaced form in one
file. The CLI takes one of them without a word; ptc refuses the file, naming both."""


@pytest.mark.real_engine
@pytest.mark.e2e
@pytest.mark.slow
def test_the_real_cli_and_ptc_accept_the_same_stacks_and_hand_the_program_the_same_text(tmp_path):
    """Each case goes to `pulumi preview --json` (whose `config` is the text the program reads) and to `ptc`'s
    loader: both refuse it, or both accept it and give every key the same text (`30.0` reads as `30`, a mapping as
    Go's JSON of it). `environment: 42` is accepted by the CLI as the text "42", as ptc now does."""
    from ptc.stack_config import load_stack_config

    workspace, project = _cli_project(tmp_path, DECLARED)
    salt = (project / "Pulumi.dev.yaml").read_text()
    for declared, values in [*STACK_CASES, (DECLARED, TWICE)]:
        (project / "Pulumi.yaml").write_text(declared)
        (project / "Pulumi.dev.yaml").write_text(f"{salt.rstrip()}\nconfig:\n{values}")
        cli = workspace.run("preview", "--stack", "dev", "--json", cwd=project, check=False, timeout=300)
        try:
            ours = load_stack_config(project, stack="dev")
        except StackConfigError as refused:
            if values == TWICE:
                assert cli.returncode == 0 and "is set twice, as 'environment' and as 'p:environment'" in str(refused)
                continue
            assert cli.returncode != 0, (declared, values, str(refused), cli.stdout[-2000:])
            continue
        assert cli.returncode == 0, (declared, values, cli.stdout[-2000:], cli.stderr[-2000:])
        given = json.loads(cli.stdout)["config"]
        assert {k: ours.values.get(k) for k in given} == given, (declared, values)


NUMBERS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 30.0, 1e-6, 9.99e-7, 1e21, 9.99e20, 1e16, 2.0**63, -(2.0**63), 1e19, 0.1, 123456789.125]
)


def test_numbers_are_handed_to_the_program_as_the_cli_stores_them():
    """A float in a stack file reaches the program as the text Go's encoding/json gives it, read back as the CLI
    reads it (`30.0` is `30`, `-0.0` is `0`, `1e21` stays `1e+21`): Go itself is the oracle, over many floats."""
    from ptc.project_rules import go_json

    values: list[float] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(NUMBERS)
    def collect(number: float) -> None:
        values.append(number)

    collect()
    answers = go_oracle.ask("config-float", [repr(v) for v in values])
    for value, expected in zip(values, answers, strict=True):
        assert go_json(value) == expected, value


# ---------------------------------------------------------------------------------------------- the selected stack


@pytest.mark.real_engine
@pytest.mark.e2e
def test_ptc_selects_the_stack_the_real_cli_selects(tmp_path, monkeypatch):
    """`pulumi stack init` and `pulumi stack select` with the real CLI, through PULUMI_BACKEND_URL and through
    `pulumi login`; after each, `ptc`'s choice is the CLI's own (`pulumi stack --show-name`)."""
    from ptc.stack_config import selected_stack

    workspace, project = _cli_project(tmp_path, "name: p\nruntime: python\n", stack=None)

    def agree() -> str:
        cli = workspace.run("stack", "--show-name", cwd=project).stdout.strip()
        for key in ("PULUMI_HOME", "PULUMI_BACKEND_URL"):
            if key in workspace.env:
                monkeypatch.setenv(key, workspace.env[key])
            else:
                monkeypatch.delenv(key, raising=False)
        monkeypatch.delenv("PULUMI_STACK", raising=False)
        ours = selected_stack(project)
        assert ours is not None and ours[0] == cli.rsplit("/", 1)[-1], (ours, cli)
        return cli

    workspace.run("stack", "init", "alpha", cwd=project)
    workspace.run("stack", "init", "beta", cwd=project)
    assert agree().endswith("beta")
    workspace.run("stack", "select", "alpha", cwd=project)
    assert agree().endswith("alpha")
    # Logged in instead of PULUMI_BACKEND_URL: the selection is kept per backend URL.
    backend = workspace.env.pop("PULUMI_BACKEND_URL")
    workspace.run("login", backend, cwd=project)
    assert agree().endswith("alpha")
    workspace.run("stack", "select", "beta", cwd=project)
    assert agree().endswith("beta")


# ---------------------------------------------------------------------------------------------- policy config files

POLICY_CONFIGS = [
    '{"version": 3}',
    '{"version": 2, "policies": {"all": "advisory", "prefix-naming": {}}}',
    '{"environments": "x"}',
    "",
    '{"all": "loud"}',
    '{"all": {"enforcementLevel": "advisory"}}',
    '{"all": {"enforcementLevel": "loud"}}',
    '{"version": 2, "policies": {"all": "advisory"}, "exceptions": []}',
]
UNKNOWN_POLICY = '{"nosuch": "advisory"}'
"""ptc is stricter here, on purpose: one policy config serves every pack it runs, so a name no pack declares is a
typo, refused; the CLI ignores it."""


@pytest.mark.real_engine
@pytest.mark.e2e
@pytest.mark.slow
def test_policy_config_files_are_read_as_the_real_cli_reads_them(tmp_path):
    """Each file goes to `pulumi preview --policy-pack-config` (with the conventions pack, on a program with no
    resources) and to `ptc`'s reader and the packs' schemas: both refuse it, or both accept it."""
    from ptc.analyzer import PackInfo, PolicyConfigError, resolve_policy_config
    from ptc.preview import load_policy_config

    workspace, project = _cli_project(tmp_path, "name: p\nruntime: python\n")
    pack = real_engine.ROOT / "policies" / "conventions"
    policies = {"prefix-naming": {"level": "advisory", "config_schema": {"properties": {}}}}
    info = PackInfo(name="ecr-ptc-conventions", version="0.1.0", policies=policies)
    for text in [*POLICY_CONFIGS, UNKNOWN_POLICY]:
        config = tmp_path / "policy-config.json"
        config.write_text(text)
        cli = workspace.run(
            "preview",
            "--stack",
            "dev",
            "--policy-pack",
            str(pack),
            "--policy-pack-config",
            str(config),
            cwd=project,
            check=False,
            timeout=300,
        )
        try:
            resolve_policy_config(load_policy_config(config), [info])
        except PolicyConfigError as refused:
            if text == UNKNOWN_POLICY:
                assert cli.returncode == 0 and "nosuch" in str(refused)
                continue
            assert cli.returncode != 0, (text, str(refused))
            continue
        assert cli.returncode == 0, (text, cli.stdout[-2000:], cli.stderr[-2000:])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("dev", "dev"),
        ("acme/dev", "dev"),
        ("acme/ecr-pull-through-cache/dev", "dev"),
        ("acme/other/dev", "must be the same"),
        ("a/b/c/d", "could not parse stack reference"),
        ("x y", "may only contain alphanumeric"),
        ("../../etc/passwd", "could not parse stack reference"),
        ("acme/", "may not be empty"),
        ("d" * 101, "cannot exceed 100 characters"),
    ],
)
def test_stack_names_are_read_as_the_cli_reads_a_stack_reference(given, expected):
    """`--stack acme/ecr-pull-through-cache/dev` previews Pulumi.dev.yaml, as `pulumi preview --stack` does; a name
    the CLI refuses is refused with its words, before any path is made of it."""
    from ptc.stack_config import load_stack_config

    if expected == "dev":
        assert load_stack_config(ROOT, stack=given).stack == "dev"
        return
    with pytest.raises(StackConfigError) as refused:
        load_stack_config(ROOT, stack=given)
    assert expected in str(refused.value)
