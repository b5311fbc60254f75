"""`ptc preview`: the program under the mock engine plus every policy pack, with no cloud account."""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

from . import render, timing
from .analyzer import PolicyConfigError, PolicyPackError, PolicyPacks, pack_dirs
from .mock_engine import Registration, run_program
from .pack_relay import RelayedPacks, packs_for
from .stack_config import StackConfig, StackConfigError, load_stack_config, stack_names

EXIT_CLEAN, EXIT_MANDATORY, EXIT_INVALID = 0, 1, 2


@dataclass
class PreviewReport:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    aws_findings: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the preview could not see (ESC environments without the `esc` CLI)."""
    """Requests AWS would refuse (`ptc.aws_api`); any makes the preview an error."""
    error: str | None = None
    """The config fault or program failure, already worded for people."""
    packs: list[str] = field(default_factory=list)
    """`<name>@<version>` of each policy pack that analyzed the stack: without one, no verdict is "passed"."""

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
                {
                    "urn": r.urn,
                    "type": r.type,
                    "name": r.name,
                    "parent": r.parent or None,
                    "custom": r.custom,
                    "properties": render.display_value(r.properties),
                }
                for r in self.resources
            ],
            "outputs": render.display_value(self.outputs),
            "violations": self.violations,
            "packs": self.packs,
        }
        if self.aws_findings:
            document["aws_findings"] = self.aws_findings
        if self.notes:
            document["notes"] = self.notes
        if self.error is not None:
            document["error"] = self.error
        return document


def describe_failure(error: BaseException, config: StackConfig | None = None) -> str:
    """A program failure for people: the config faults as written, anything else in one line; with `config`,
    no secret config value survives in it (an exception message may quote one), the debug traceback included."""
    from ecr_pull_through_cache.config import ConfigError  # imported late: only needed on failure

    if isinstance(error, ConfigError):
        text = str(error)
    elif os.environ.get("PTC_DEBUG"):
        text = "".join(traceback.format_exception(error))
    else:
        message = str(error).strip() or type(error).__name__
        text = f"The program failed: {type(error).__name__}: {message} (set PTC_DEBUG=1 for the traceback)"
    return config.redact(text) if config is not None else text


def preview(project_dir: Path, config: StackConfig, policy_config: dict[str, Any] | None = None) -> PreviewReport:
    """Run the program as `pulumi preview` would, then every policy pack over what it would create."""
    return preview_stacks(project_dir, [config], policy_config)[0]


def preview_stacks(
    project_dir: Path,
    configs: list[StackConfig],
    policy_config: dict[str, Any] | None = None,
    stack_references: dict[str, dict[str, Any]] | None = None,
) -> list[PreviewReport]:
    """Preview several stacks in one process.

    Each stack's packs (one process per pack, configured for that stack as the CLI would) start
    first, so their start-up overlaps the programs, which run one after another in this process.
    """
    dirs = pack_dirs(project_dir)
    packs = [packs_for(dirs, config) if dirs else None for config in configs]
    reports = []
    try:
        for index, (config, stack_packs) in enumerate(zip(configs, packs, strict=True)):
            # The last stack's objects are left to the process's exit (ptc reports and exits): no collection pass.
            last = index == len(configs) - 1
            reports.append(
                _preview_one(project_dir, config, stack_packs, policy_config, stack_references, collect=not last)
            )
    finally:
        for stack_packs in packs:
            if stack_packs is not None:
                stack_packs.close()
    return reports


def _preview_one(
    project_dir: Path,
    config: StackConfig,
    packs: PolicyPacks | RelayedPacks | None,
    policy_config: dict[str, Any] | None,
    stack_references: dict[str, dict[str, Any]] | None,
    *,
    collect: bool,
) -> PreviewReport:
    # Phase 3, every policy pack, runs in the packs' own processes beside the program: each resource is analyzed as
    # it is registered (as the engine does), so what is left at the end is the last few and `AnalyzeStack`.
    analysis = packs.stream(policy_config) if packs is not None else None
    try:
        timing.mark("config")
        from .mock_engine import FAKE_ACCOUNT_ID

        account = config.account or FAKE_ACCOUNT_ID
        result = run_program(
            project_dir,
            config,
            preview=True,
            account_id=account,
            on_register=analysis.add if analysis else None,
            stack_references=stack_references,
            collect=collect,
        )
        timing.mark("program")
        report = PreviewReport(
            project=config.project,
            stack=config.stack,
            resources=result.resources,
            outputs=result.outputs,
        )
        region, source = config.region_and_source
        if source != "aws:region":
            origin = f"from {source}" if source else "ptc's default: no aws:region, AWS_REGION or AWS_DEFAULT_REGION"
            report.notes.append(
                f"the stack sets no aws:region; previewed in {region} ({origin}). `pulumi up` uses the same variables, "
                "else your AWS profile's region: pin it with `pulumi config set aws:region <region>`"
            )
        if config.esc_placeholders:
            report.notes.append(
                f"the stack imports the ESC environment(s) {', '.join(config.esc_environments)}, and `esc` is not "
                f"here to open them: {', '.join(config.esc_placeholders)} are assumed to come from ESC and are not "
                "checked offline (install the esc CLI to check them too)"
            )
        if result.error is not None:
            report.error = describe_failure(result.error, config)
            return report
        if analysis is not None:
            analysis.end(result.resources)
        # Phase 2, here meanwhile: the create requests as AWS would check them (botocore's model and AWS's quotas).
        # A finding makes the preview an error, and the packs' answers (or their failure) are then not reported.
        from . import aws_api

        findings = aws_api.check(result.resources, account=account, region=config.region)
        unchecked = aws_api.unmodelled(result.resources)
        if unchecked:
            report.notes.append(
                f"AWS's request rules are not modelled here for {', '.join(unchecked)}: the policy packs checked "
                "those resources, `pulumi preview` checks their requests"
            )
        timing.mark("aws checks")
        if findings:
            report.aws_findings = [f.to_json() for f in findings]
            report.error = aws_api.describe(findings)
        elif analysis is not None:
            # The SDK registers sibling resources from several threads, so registration order varies between
            # runs; the report's order does not (pack, resource, policy), and two runs of one stack diff clean.
            report.violations = sorted(
                analysis.violations(), key=lambda v: (v["pack"], v["urn"] or "", v["policy"], v["message"])
            )
            report.packs = analysis.packs_ran()
            timing.mark("packs")
    except (PolicyPackError, PolicyConfigError) as exc:
        report = PreviewReport(project=config.project, stack=config.stack, error=str(exc))
    finally:
        if packs is not None:
            packs.close()  # this stack's packs, now: `--all` goes on to the next stack
    return report


def _project_name(project_dir: Path) -> str:
    """The project's name for a report, even when the stack itself cannot be read."""
    from .stack_config import load_project

    try:
        return str(load_project(project_dir)["name"])
    except StackConfigError:
        return project_dir.name


def load_stack_outputs(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`--stack-outputs NAME=FILE`: the outputs a StackReference to NAME reads, from `pulumi stack output --json`."""
    from .outputs import OutputsError, load_outputs

    found: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise StackConfigError(f"--stack-outputs {pair!r}: write it as <organization>/<project>/<stack>=FILE")
        try:
            found[name] = load_outputs(path)
        except OutputsError as exc:
            raise StackConfigError(f"--stack-outputs {name}: {exc}") from None
    return found


def load_policy_config(path: Path) -> dict[str, Any]:
    """A `pulumi preview --policy-pack-config` file (JSON, or YAML)."""
    from ecr_pull_through_cache.yaml12 import YamlError, load_file

    try:
        document = load_file(path)
    except YamlError as exc:
        raise PolicyConfigError(f"cannot read the policy config: {exc}") from None
    if document is None:  # an empty file, as the CLI allows
        return {}
    if not isinstance(document, dict):
        raise PolicyConfigError(f"the policy config {path} must be an object keyed by policy name (or 'all')")
    return policy_entries(document, path)


def policy_entries(document: dict[str, Any], path: Path) -> dict[str, Any]:
    """The policies' entries of a policy config, read as the CLI reads the file (pkg/resource/analyzer/config.go,
    parsePolicyPackConfig): a numeric `version` marks the version 2 form, its entries under `policies`; otherwise
    every key but `environments` names a policy; an empty entry (`{}`) is skipped. ESC `environments` and v2
    `exceptions` are refused by name: `ptc` neither opens the one nor applies the other, and would report what the
    CLI would not."""
    version = document.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        if version > 2:
            raise PolicyConfigError(f"{path}: policy pack config version {version} isn't supported")
        if version != 2:
            raise PolicyConfigError(f'{path}: "version" must be 2')
        policies, exceptions = document.get("policies") or {}, document.get("exceptions")
        if not isinstance(policies, dict):
            raise PolicyConfigError(f"{path}: `policies` must be an object keyed by policy name (or 'all')")
    else:
        policies, exceptions = {k: v for k, v in document.items() if k != "environments"}, None
    environments = document.get("environments")
    if environments is not None and (
        not isinstance(environments, list) or not all(isinstance(e, str) for e in environments)
    ):
        raise PolicyConfigError(f'{path}: "environments" must be an array of strings')
    if environments:
        raise PolicyConfigError(
            f"{path} takes policy settings from ESC environments ({', '.join(environments)}), which ptc does not "
            "open: give the settings in the file for ptc, or run `pulumi preview --policy-pack-config`"
        )
    if exceptions is not None and not isinstance(exceptions, dict):
        raise PolicyConfigError(f'{path}: "exceptions" must be an object that maps exception IDs to exceptions')
    if exceptions:
        raise PolicyConfigError(
            f"{path} holds policy exceptions, which ptc does not apply (it would report what they except): run "
            "`pulumi preview --policy-pack-config` for them"
        )
    return {name: entry for name, entry in policies.items() if entry != {}}


def print_report(report: PreviewReport, console: Console) -> None:
    # What the report quotes (a program's error, a pack's message, the `[secret]` that replaced a token) is Text,
    # never parsed: as markup `[secret]` would vanish and a `[/x]` raise MarkupError; as emoji `:x:` would change.
    from rich.text import Text

    console.print(
        Text.assemble(
            "Previewing stack ",
            (report.stack, "bold"),
            f" of project {report.project} (mock engine: no cloud account, no Pulumi CLI)",
        )
    )
    for note in report.notes:
        console.print(Text.assemble(("note:", "yellow"), " ", note), highlight=False, soft_wrap=True)
    if report.error is not None:
        console.print(Text.assemble(("error:", "bold red"), " ", report.error), highlight=False, soft_wrap=True)
        return
    console.print(render.resource_tree(f"{report.project}-{report.stack}", report.resources))
    render.print_outputs(console, report.outputs)
    render.print_violations(console, report.violations)
    mandatory = sum(v["level"] == "mandatory" for v in report.violations)
    advisory = sum(v["level"] == "advisory" for v in report.violations)
    if mandatory:
        verdict = "[bold red]blocked by policy[/bold red]"
    elif report.packs:
        verdict = "[green]policies passed[/green]"
    else:
        verdict = "[yellow]no policy pack ran[/yellow] (give one with --policy-pack DIR)"
    if report.packs:
        console.print(Text.assemble(("Policy packs: ", "bold"), ", ".join(report.packs)), highlight=False)
    # The same count as --json's "resources" (the stack itself is neither counted nor listed there).
    console.print(
        f"Resources: {len(report.resources)} to create; policy: {mandatory} mandatory, {advisory} advisory; {verdict}",
        highlight=False,
    )


def run(args: Any, console: Console) -> int:
    project_dir = Path(args.project_dir).resolve()
    unreadable: list[PreviewReport] = []
    try:
        policy_config = load_policy_config(Path(args.policy_config)) if args.policy_config else None
        references = load_stack_outputs(args.stack_outputs or [])
        if args.all:
            configs = []
            for name in stack_names(project_dir):  # every readable stack is previewed; the others are reported
                try:
                    configs.append(load_stack_config(project_dir, stack=name))
                except StackConfigError as exc:
                    unreadable.append(PreviewReport(project=_project_name(project_dir), stack=name, error=str(exc)))
        else:
            config_file = Path(args.config) if args.config else None
            configs = [load_stack_config(project_dir, stack=args.stack, config_file=config_file)]
    except (StackConfigError, PolicyConfigError) as exc:
        reports = [
            PreviewReport(
                project=_project_name(project_dir), stack=args.stack or str(args.config or "*"), error=str(exc)
            )
        ]
    else:
        reports = preview_stacks(project_dir, configs, policy_config, references) if configs else []
        reports = sorted(reports + unreadable, key=lambda r: r.stack)
    if args.json:
        document = reports[0].to_json() if not args.all else {"stacks": {r.stack: r.to_json() for r in reports}}
        print(json.dumps(document, indent=2, sort_keys=False))
    else:
        for report in reports:
            print_report(report, console)
    return max(r.exit_code for r in reports)
