"""`ptc reconcile`: bring cached repositories in line with their prefix's creation template.

Templates apply only when ECR creates a repository, so repositories cached before a template
change keep their old lifecycle policy, tag mutability, scanning and tags. Reconcile lists every
repository under each cache prefix, compares it with the template settings in the stack outputs,
and (with --apply) writes only what differs. It never touches a repository outside the prefixes,
and never deletes images or repositories. Encryption cannot change after creation and is left as
it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, error_message

DEFAULT_WORKERS = 8


def canonical(text: str | None) -> str | None:
    """One spelling per JSON document, so that equal policies compare equal."""
    if text is None:
        return None
    try:
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return text


@dataclass(frozen=True)
class Desired:
    """The settings a prefix's template gives its repositories."""

    prefix: str
    mutability: str
    exclusion_filters: tuple[str, ...]
    lifecycle_policy: str | None
    tags: dict[str, str]
    repository_policy: str | None

    @classmethod
    def from_outputs(cls, prefix: str, upstream: dict[str, Any]) -> Desired:
        template = upstream.get("template") or {}
        return cls(
            prefix=prefix,
            mutability=template.get("image_tag_mutability") or "MUTABLE",
            exclusion_filters=tuple(sorted(template.get("image_tag_mutability_exclusion_filters") or [])),
            lifecycle_policy=canonical(template.get("lifecycle_policy")),
            tags=dict(template.get("resource_tags") or {}),
            repository_policy=canonical(template.get("repository_policy")),
        )


@dataclass
class Change:
    repository: str
    setting: str
    before: Any
    after: Any
    applied: bool = False


@dataclass
class Report:
    repositories: int = 0
    changes: list[Change] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0
    """Repositories outside every cache prefix (never touched)."""
    calls: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "repositories": self.repositories,
            "changes": [asdict(c) for c in self.changes],
            "errors": self.errors,
            "skipped": self.skipped,
            "calls": self.calls,
        }


class Reconciler:
    def __init__(self, aws: Aws, outputs: dict[str, Any], *, apply: bool = False, workers: int = DEFAULT_WORKERS):
        self.ecr = aws.client("ecr")
        self.aws = aws
        self.apply = apply
        self.workers = workers
        self.desired = sorted((Desired.from_outputs(p, u) for p, u in outputs["upstreams"].items()),
                              key=lambda d: -len(d.prefix))

    def desired_for(self, name: str) -> Desired | None:
        return next((d for d in self.desired if name.startswith(d.prefix + "/")), None)

    def repositories(self) -> list[dict[str, Any]]:
        """Every repository of the registry, one page of up to 1000 at a time."""
        paginator = self.ecr.get_paginator("describe_repositories")
        return [repo for page in paginator.paginate(PaginationConfig={"PageSize": 1000})
                for repo in page["repositories"]]

    def run(self, progress: Callable[[int], None] | None = None) -> Report:
        report = Report()
        try:
            repositories = self.repositories()
        except (ClientError, BotoCoreError) as exc:
            report.errors.append({"repository": "*", "error": f"cannot list repositories: {error_message(exc)}"})
            return report
        work = []
        for repo in repositories:
            desired = self.desired_for(repo["repositoryName"])
            if desired is None:
                report.skipped += 1
            else:
                work.append((repo, desired))
        report.repositories = len(work)
        if progress:
            progress(len(work))
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(self.reconcile_one, repo, desired): repo["repositoryName"]
                       for repo, desired in work}
            for future in as_completed(futures):
                changes, error = future.result()
                report.changes.extend(changes)
                if error:
                    report.errors.append({"repository": futures[future], "error": error})
                if progress:
                    progress(-1)
        report.changes.sort(key=lambda c: (c.repository, c.setting))
        report.errors.sort(key=lambda e: e["repository"])
        report.calls = dict(sorted(self.aws.counter.calls.items()))
        return report

    def reconcile_one(self, repo: dict[str, Any], desired: Desired) -> tuple[list[Change], str | None]:
        """Compare one repository with its template; with apply, write what differs."""
        changes: list[Change] = []
        try:
            changes = self.drift(repo, desired)
            if self.apply:
                for change in changes:
                    self.write(repo, desired, change)
                    change.applied = True
        except (ClientError, BotoCoreError) as exc:
            return changes, error_message(exc)
        return changes, None

    def drift(self, repo: dict[str, Any], desired: Desired) -> list[Change]:
        name = repo["repositoryName"]
        changes = []
        mutability = repo.get("imageTagMutability", "MUTABLE")
        filters = tuple(sorted(f["filter"] for f in repo.get("imageTagMutabilityExclusionFilters") or []))
        if (mutability, filters) != (desired.mutability, desired.exclusion_filters):
            changes.append(Change(name, "image_tag_mutability",
                                  {"mutability": mutability, "exclusion_filters": list(filters)},
                                  {"mutability": desired.mutability,
                                   "exclusion_filters": list(desired.exclusion_filters)}))
        # No scan-on-push drift: registry scanning governs every repository, and the per-repository setting
        # (PutImageScanningConfiguration) "is being deprecated, in favor of specifying the image scanning
        # configuration at the registry level" (botocore's ECR model); writing it would change nothing real.
        if desired.lifecycle_policy is not None:
            current = self._lifecycle_policy(name)
            if current != desired.lifecycle_policy:
                changes.append(Change(name, "lifecycle_policy", current, desired.lifecycle_policy))
        if desired.tags:
            tags = {t["Key"]: t["Value"] for t in self.ecr.list_tags_for_resource(
                resourceArn=repo["repositoryArn"])["tags"]}
            differing = {k: v for k, v in desired.tags.items() if tags.get(k) != v}
            if differing:
                changes.append(Change(name, "tags", {k: tags.get(k) for k in differing}, differing))
        if desired.repository_policy is not None:
            current = self._repository_policy(name)
            if current != desired.repository_policy:
                changes.append(Change(name, "repository_policy", current, desired.repository_policy))
        return changes

    def _lifecycle_policy(self, name: str) -> str | None:
        try:
            return canonical(self.ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
        except self.ecr.exceptions.LifecyclePolicyNotFoundException:
            return None

    def _repository_policy(self, name: str) -> str | None:
        try:
            return canonical(self.ecr.get_repository_policy(repositoryName=name)["policyText"])
        except self.ecr.exceptions.RepositoryPolicyNotFoundException:
            return None

    def write(self, repo: dict[str, Any], desired: Desired, change: Change) -> None:
        name = repo["repositoryName"]
        if change.setting == "image_tag_mutability":
            kwargs: dict[str, Any] = {"repositoryName": name, "imageTagMutability": desired.mutability}
            if desired.exclusion_filters:
                kwargs["imageTagMutabilityExclusionFilters"] = [
                    {"filterType": "WILDCARD", "filter": f} for f in desired.exclusion_filters]
            self.ecr.put_image_tag_mutability(**kwargs)
        elif change.setting == "lifecycle_policy":
            self.ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=desired.lifecycle_policy)
        elif change.setting == "tags":
            self.ecr.tag_resource(resourceArn=repo["repositoryArn"],
                                  tags=[{"Key": k, "Value": v} for k, v in sorted(change.after.items())])
        elif change.setting == "repository_policy":
            self.ecr.set_repository_policy(repositoryName=name, policyText=desired.repository_policy)
        else:  # pragma: no cover - drift() only yields the settings above
            raise AssertionError(change.setting)


# --------------------------------------------------------------------------------------------
# The verb
# --------------------------------------------------------------------------------------------

def describe(change: Change) -> tuple[str, str]:
    """Before and after, short enough for a terminal."""
    def policy(text: str | None) -> str:
        """`2 rules (3f9a1c2e)`: the count and a fingerprint, so different policies look different."""
        if text is None:
            return "(none)"
        fingerprint = hashlib.sha256(text.encode()).hexdigest()[:8]
        rules = json.loads(text).get("rules") if text.startswith("{") else None
        return f"{len(rules)} rules ({fingerprint})" if isinstance(rules, list) else f"policy {fingerprint}"

    if change.setting == "image_tag_mutability":
        def show(v):
            return v["mutability"] + (f" ({', '.join(v['exclusion_filters'])})" if v["exclusion_filters"] else "")
        return show(change.before), show(change.after)
    if change.setting == "tags":
        return (", ".join(f"{k}={v}" if v is not None else f"{k} missing" for k, v in change.before.items()),
                ", ".join(f"{k}={v}" for k, v in change.after.items()))
    return policy(change.before), policy(change.after)


def run(args: Any, console: Any) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from .outputs import registry_outputs

    outputs, account, region = registry_outputs(args.outputs, args.region)
    reconciler = Reconciler(Aws(region, args.endpoint_url, max_pool=args.workers * 2), outputs, apply=args.apply,
                            workers=args.workers)
    mode = "applying" if args.apply else "dry run"
    if console.is_terminal and not args.json:
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(f"Reconciling ({mode})", total=None)

            def progress(step: int) -> None:
                bar.update(task, total=step) if step >= 0 else bar.advance(task)
            report = reconciler.run(progress)
    else:
        report = reconciler.run()

    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        others = f"{report.skipped} other {'repository' if report.skipped == 1 else 'repositories'}"
        console.print(f"Cached repositories under {len(reconciler.desired)} prefixes in {account}/{region}: "
                      f"{report.repositories} ({others} left alone)")
        if report.changes:
            table = Table("repository", "setting", "now", "template", *(["applied"] if args.apply else []))
            for change in report.changes:
                before, after = describe(change)
                applied = ["yes" if change.applied else "no"] if args.apply else []
                table.add_row(change.repository, change.setting, before, after, *applied)
            console.print(table)
        for error in report.errors:
            console.print(f"error: {error['repository']}: {error['error']}", soft_wrap=True)
        drifted = len({c.repository for c in report.changes})
        verb = "fixed" if args.apply else "to fix (dry run; --apply writes them)"
        console.print(f"{len(report.changes)} changes in {drifted} repositories {verb}; "
                      f"{len(report.errors)} errors; {reconciler.aws.counter.total} AWS calls")
    if report.errors:
        return 1
    if args.fail_on_drift and report.changes and not args.apply:
        return 1
    return 0
