"""Release checks the release workflow runs (standard library only, before anything is installed).

    python3 tools/release.py check v0.2.0   # the tag names the one version everything carries, with a CHANGELOG entry
    python3 tools/release.py notes v0.2.0   # that version's CHANGELOG section, the GitHub release's notes

One version is carried by components/__init__.py (`__version__`, the wheel's and the plugin's version, `ptc
--version`), both packs' PulumiPolicy.yaml (`pulumi policy publish` publishes that version), the packs' shared
package (policies/pack-support: its pyproject.toml and `__version__`, published to PyPI with the wheel), each pack's
pin of it in requirements.txt, and CHANGELOG.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"v(\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?)")
PACKS = ("policies/security/PulumiPolicy.yaml", "policies/conventions/PulumiPolicy.yaml")
DUNDER = r"^__version__ = \"([^\"]+)\"$"
PIN = r"^ecr-ptc-policy-support==(\S+)$"
FILES = {
    "components/__init__.py": DUNDER,
    **{pack: r"^version:\s*(\S+)\s*$" for pack in PACKS},
    "policies/pack-support/pyproject.toml": r"^version = \"([^\"]+)\"$",
    "policies/pack-support/ptc_policy_support/__init__.py": DUNDER,
    "policies/security/requirements.txt": PIN,
    "policies/conventions/requirements.txt": PIN,
}
"""Every file that carries the release's version, and how it spells it."""


class ReleaseError(Exception):
    pass


def versions(root: Path) -> dict[str, str | None]:
    def find(path: str, pattern: str) -> str | None:
        file = root / path
        found = re.search(pattern, file.read_text(encoding="utf-8"), re.MULTILINE) if file.is_file() else None
        return found.group(1) if found else None

    return {path: find(path, pattern) for path, pattern in FILES.items()}


def notes(root: Path, version: str) -> str:
    """The text under `## [version]` up to the next `## ` heading (Keep a Changelog's layout)."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8") if (root / "CHANGELOG.md").is_file() else ""
    found = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if not found or not found.group(1).strip():
        raise ReleaseError(f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section: add one with the changes")
    return found.group(1).strip() + "\n"


def check(root: Path, tag: str) -> str:
    matched = TAG.fullmatch(tag)
    if not matched:
        raise ReleaseError(f"tag {tag!r} is not vMAJOR.MINOR.PATCH (e.g. v0.2.0)")
    version = matched.group(1)
    wrong = {path: found for path, found in versions(root).items() if found != version}
    if wrong:
        listed = ", ".join(f"{path} has {found or 'no version'}" for path, found in wrong.items())
        raise ReleaseError(f"tag {tag} but {listed}: set {version} in each, or tag the version they carry")
    notes(root, version)
    return version


def main(argv: list[str], root: Path = ROOT) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "notes"):
        print("usage: python3 tools/release.py {check|notes} vX.Y.Z", file=sys.stderr)
        return 2
    try:
        version = check(root, argv[1])
        if argv[0] == "notes":
            sys.stdout.write(notes(root, version))
        else:
            print(f"release {version}: every version and the CHANGELOG agree")
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
