"""`ptc preview`: the program under the mock engine plus every policy pack, with no cloud account."""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from . import render
from .mock_engine import Registration, RunResult, run_program
from .stack_config import StackConfig, StackConfigError, load_stack_config

EXIT_CLEAN, EXIT_MANDATORY, EXIT_INVALID = 0, 1, 2


@dataclass
class PreviewReport:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    """The config fault or program failure, already worded for people."""

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return EXIT_INVALID
        if any(v["level"] == "mandatory" for v in self.violations):
            return EXIT_MANDATORY
        return EXIT_CLEAN

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "stack": self.stack,
            "resources": [
                {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent or None, "custom": r.custom,
                 "properties": render.display_value(r.properties)}
                for r in self.resources
            ],
            "outputs": render.display_value(self.outputs),
            "violations": self.violations,
        }
        if self.error is not None:
            document["error"] = self.error
        return document


def describe_failure(error: BaseException) -> str:
    """A program failure for people: the config faults as written, anything else in one line."""
    from components.config import ConfigError  # imported late: only needed on failure

    if isinstance(error, ConfigError):
        return str(error)
    if os.environ.get("PTC_DEBUG"):
        return "".join(traceback.format_exception(error))
    message = str(error).strip() or type(error).__name__
    return f"The program failed: {type(error).__name__}: {message} (set PTC_DEBUG=1 for the traceback)"


def preview(project_dir: Path, config: StackConfig) -> PreviewReport:
    """Run the program (as `pulumi preview` would) and return what it would create."""
    result: RunResult = run_program(project_dir, config, preview=True)
    report = PreviewReport(project=config.project, stack=config.stack, resources=result.resources,
                           outputs=result.outputs)
    if result.error is not None:
        report.error = describe_failure(result.error)
    return report


def load_config(project_dir: Path, stack: str | None, config_file: Path | None) -> StackConfig:
    return load_stack_config(project_dir, stack=stack, config_file=config_file)


def print_report(report: PreviewReport, console: Console) -> None:
    console.print(f"Previewing stack [bold]{report.stack}[/bold] of project {report.project} "
                  "(mock engine: no cloud account, no Pulumi CLI)")
    if report.error is not None:
        console.print(f"[bold red]error:[/bold red] {report.error}", highlight=False)
        return
    console.print(render.resource_tree(f"{report.project}-{report.stack}", report.resources))
    render.print_outputs(console, report.outputs)
    render.print_violations(console, report.violations)
    mandatory = sum(v["level"] == "mandatory" for v in report.violations)
    advisory = sum(v["level"] == "advisory" for v in report.violations)
    verdict = "[bold red]blocked by policy[/bold red]" if mandatory else "[green]policies passed[/green]"
    console.print(f"Resources: {len(report.resources) + 1} to create; policy: {mandatory} mandatory, "
                  f"{advisory} advisory; {verdict}", highlight=False)


def run(args: Any, console: Console) -> int:
    project_dir = Path(args.project_dir).resolve()
    try:
        config = load_config(project_dir, args.stack, Path(args.config) if args.config else None)
    except StackConfigError as exc:
        report = PreviewReport(project="?", stack=args.stack or str(args.config), error=str(exc))
    else:
        report = preview(project_dir, config)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=False))
    else:
        print_report(report, console)
    return report.exit_code
