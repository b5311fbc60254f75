"""The stacks the pipelines run, discovered from the stack files, so `pulumi stack init staging` needs no CI edit.

Standard library only: CI runs it before anything is installed.

    python3 tools/stacks.py list            # one stack name per line
    python3 tools/stacks.py github          # lines for $GITHUB_OUTPUT: stacks, early and production as JSON lists
    python3 tools/stacks.py gitlab-deploy   # a GitLab child pipeline (JSON is YAML): one deploy job per stack

A stack is every `Pulumi.<stack>.yaml` in the project's stack directory (`stackConfigDir` of Pulumi.yaml, else the
project: the rule `ptc.stack_config.stack_names` follows). Production stacks are those whose name's first part
(split on `-`, `_` or `.`) is `prod` or `production` (`prod`, `production`, `prod-eu`): they deploy after every other
stack, behind their environment's protection rules on GitHub and by hand on GitLab.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PRODUCTION_NAMES = frozenset({"prod", "production"})


def stack_dir(project: Path) -> Path:
    """`stackConfigDir` of Pulumi.yaml when it is set on one plain line (the only form this stdlib reader takes)."""
    text = (project / "Pulumi.yaml").read_text(encoding="utf-8") if (project / "Pulumi.yaml").is_file() else ""
    found = re.search(r"^stackConfigDir:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(?:#.*)?$", text, re.MULTILINE)
    return project / found.group(1) if found else project


def stacks(project: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir(project).glob("Pulumi.*.yaml"))


def is_production(stack: str) -> bool:
    return re.split(r"[-_.]", stack, maxsplit=1)[0].lower() in PRODUCTION_NAMES


def github(project: Path) -> str:
    names = stacks(project)
    return "".join(
        f"{key}={json.dumps(value)}\n"
        for key, value in (
            ("stacks", names),
            ("early", [s for s in names if not is_production(s)]),
            ("production", [s for s in names if is_production(s)]),
        )
    )


def listing(project: Path) -> str:
    return "".join(f"{s}\n" for s in stacks(project))


def gitlab_deploy(project: Path) -> str:
    """One job per stack extending `.deploy` (`.gitlab/pulumi.yml`, which the child pipeline includes as the parent
    does); production stacks wait for every other stack and are started by hand."""
    names = stacks(project)
    early = [s for s in names if not is_production(s)]
    pipeline: dict[str, object] = {"include": [{"local": ".gitlab/pulumi.yml"}]}
    for stack in names:
        job: dict[str, object] = {"extends": ".deploy", "variables": {"STACK": stack}, "environment": stack}
        if is_production(stack):
            job["needs"] = [f"deploy-{s}" for s in early]
            job["when"] = "manual"
        pipeline[f"deploy-{stack}"] = job
    if not names:
        pipeline["no-stacks"] = {"script": ["echo 'no Pulumi.<stack>.yaml: nothing to deploy'"]}
    return json.dumps(pipeline, indent=2) + "\n"


def main(argv: list[str]) -> int:
    commands = {"list": listing, "github": github, "gitlab-deploy": gitlab_deploy}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python3 tools/stacks.py {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    sys.stdout.write(commands[argv[0]](Path.cwd()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
