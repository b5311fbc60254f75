"""README and docs/ against the code: every link lands, every key, kind, output, policy and verb is documented, and
the README's program for your own repository runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecr_pull_through_cache import catalog
from ecr_pull_through_cache.config import CONFIG_KEYS, TOKEN_KEYS, UPSTREAM_KEYS
from tests.conftest import ROOT, run_ptc

README = ROOT / "README.md"
PAGES = sorted([README, *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").glob("*/README.md")])


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_lands(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.relative_to(ROOT)}: {target} does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page.relative_to(ROOT)}: #{anchor} is no heading of {file.name}"


def test_the_readme_is_short_and_links_every_reference_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name}" in text, f"README does not link docs/{page.name}"
    for heading in ("## Quickstart", "## Deploying for real", "## Use it from your own repository"):
        assert heading in text
    assert "make preview" in text and "make test" in text


def test_the_config_page_documents_every_key_field_and_kind():
    text = (ROOT / "docs" / "config.md").read_text()
    for key in CONFIG_KEYS:
        assert f"| `{key}` |" in text, f"docs/config.md: no row for `{key}`"
    for field in UPSTREAM_KEYS:
        assert f"| `{field}` |" in text, f"docs/config.md: no row for upstream field `{field}`"
    for field in TOKEN_KEYS:
        assert f"{field}:" in text, f"docs/config.md: token field `{field}` not shown"
    components = (ROOT / "docs" / "components.md").read_text()
    for kind in catalog.KIND_NAMES:
        assert f"| `{kind}` |" in components, f"docs/components.md: no row for kind `{kind}`"


def test_the_outputs_page_documents_every_stack_output():
    exported = re.findall(r'^pulumi\.export\("([a-z_]+)"', (ROOT / "__main__.py").read_text(), re.MULTILINE)
    assert exported
    text = (ROOT / "docs" / "outputs.md").read_text()
    for name in exported:
        assert f"| `{name}` |" in text, f"docs/outputs.md: no row for output `{name}`"


def test_the_policy_pack_page_documents_every_policy():
    text = (ROOT / "docs" / "policy-packs.md").read_text()
    for pack in ("security", "conventions"):
        for path in (ROOT / "policies" / pack).glob("*.py"):
            for name in re.findall(r'^\s+name="([a-z-]+)",', path.read_text(), re.MULTILINE):
                assert f"`{name}`" in text, f"docs/policy-packs.md: policy `{name}` ({path.name}) is undocumented"


def test_the_ptc_page_documents_every_verb_and_preview_flag():
    from ptc.cli import parser

    text = (ROOT / "docs" / "ptc.md").read_text()
    top = parser()
    verbs = next(a for a in top._actions if a.dest == "verb").choices
    for verb in verbs:
        assert f"ptc {verb}" in text, f"docs/ptc.md: `ptc {verb}` is undocumented"
    for action in verbs["preview"]._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in text, f"docs/ptc.md: `ptc preview {flag}` is undocumented"


def readme_program() -> str:
    section = README.read_text().split("## Use it from your own repository", 1)[1].split("\n## ", 1)[0]
    (program,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    return program


def test_the_readmes_program_for_your_own_repository_previews(tmp_path):
    """The program as the README shows it, in a scratch project of its own, previewed with the packs."""
    project = tmp_path / "scratch"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: us-east-2\n  scratch:dockerHubToken:\n    secure: v1:abc:fake-ciphertext\n"
    )
    (project / "__main__.py").write_text(readme_program())
    run = run_ptc("preview", "--json", "-C", str(project))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout)
    components = [r for r in report["resources"] if r["type"] == "ecr-pull-through-cache:index:PullThroughCache"]
    assert sorted(r["name"] for r in components) == ["dev", "qa"]
    assert len(report["packs"]) == 2
    rules = [r for r in report["resources"] if r["type"] == "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"]
    assert len(rules) == 4


def test_the_readmes_typed_args_type_check(tmp_path):
    """The typed half is what an IDE checks: mypy (strict) accepts it as written (the dict half is for code that
    builds its args at run time; mypy wants the enums there)."""
    text = readme_program()
    imports, rest = text.split("config = pulumi.Config()", 1)
    typed = rest.split("# typed args", 1)[1]
    program = tmp_path / "program.py"
    program.write_text(
        imports
        + typed.replace('pulumi.export("consumer_policy_arns", cache.', 'pulumi.export("consumer_policy_arns", mirror.')
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--ignore-missing-imports", str(program)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(ROOT / ".venv" / "mypy"), "PATH": str(Path(sys.executable).parent)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
