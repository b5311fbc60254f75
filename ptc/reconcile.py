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
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import SHAPE_ERRORS, Aws, DeadlineExceeded, could_not_check, error_code, error_message, unanswered

DEFAULT_WORKERS = 8
NOT_STARTED = "not started: the run was stopped"
"""reconcile_one's answer for a repository it never looked at (counted in `not_checked`, not an error)."""


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
    gone: list[str] = field(default_factory=list)
    """Repositories deleted while the run was under way: nothing to reconcile, not an error."""
    not_checked: int = 0
    """Repositories never looked at because the run was interrupted."""
    interrupted: bool = False
    deadline_passed: bool = False
    """The --deadline passed: the repositories not started are counted in not_checked."""

    @property
    def applied(self) -> int:
        return sum(c.applied for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "repositories": self.repositories,
            "changes": [asdict(c) for c in self.changes],
            "applied": self.applied,
            "errors": self.errors,
            "gone": self.gone,
            "skipped": self.skipped,
            "not_checked": self.not_checked,
            "interrupted": self.interrupted,
            "deadline_passed": self.deadline_passed,
            "calls": self.calls,
        }


class Reconciler:
    def __init__(self, aws: Aws, outputs: dict[str, Any], *, apply: bool = False, workers: int = DEFAULT_WORKERS):
        self.ecr = aws.client("ecr")
        self.aws = aws
        self.apply = apply
        self.workers = workers
        self.stop = threading.Event()
        """Set on the first Ctrl-C or SIGTERM, or when the deadline passes: no further repository is started."""
        self.deadline_passed = False
        self.desired = sorted(
            (Desired.from_outputs(p, u) for p, u in outputs["upstreams"].items()), key=lambda d: -len(d.prefix)
        )

    def desired_for(self, name: str) -> Desired | None:
        return next((d for d in self.desired if name.startswith(d.prefix + "/")), None)

    def repositories(self) -> list[dict[str, Any]]:
        """Every repository of the registry, one page of up to 1000 at a time."""
        paginator = self.ecr.get_paginator("describe_repositories")
        repositories = [
            repo for page in paginator.paginate(PaginationConfig={"PageSize": 1000}) for repo in page["repositories"]
        ]
        for repo in repositories:  # an answer of the wrong shape stops here, before anything is written
            if not isinstance(repo, dict) or not isinstance(repo.get("repositoryName"), str):
                raise TypeError("repositories")
        return repositories

    def run(self, progress: Callable[[int], None] | None = None) -> Report:
        report = Report()
        try:
            repositories = self.repositories()
        except (ClientError, BotoCoreError, *SHAPE_ERRORS) as exc:
            report.errors.append({"repository": "*", "error": f"cannot list repositories: {could_not_check(exc)}"})
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
        pool = ThreadPoolExecutor(max_workers=self.workers)
        futures = {pool.submit(self.reconcile_one, repo, desired): repo["repositoryName"] for repo, desired in work}
        collected: set[Any] = set()

        def collect(future: Any) -> None:
            collected.add(future)
            changes, error, gone = future.result()
            report.changes.extend(changes)
            if gone:
                report.gone.append(futures[future])
            elif error == NOT_STARTED:
                report.not_checked += 1
            elif error:
                report.errors.append({"repository": futures[future], "error": error})
            if progress:
                progress(-1)

        try:
            for future in as_completed(futures):
                collect(future)
        except KeyboardInterrupt:
            # First Ctrl-C: start nothing more, let the calls in flight finish, report what was done.
            self.stop.set()
            report.interrupted = True
            _abort_on_second_interrupt()
            sys.stderr.write(
                "stopping: no repository is started from now on; the ones in flight finish their writes"
                " (Ctrl-C again abandons them)\n"
            )
            sys.stderr.flush()
            for future in futures:
                future.cancel()
            for future in futures:
                if future in collected:
                    continue
                if future.cancelled():
                    report.not_checked += 1
                else:
                    collect(future)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        report.deadline_passed = self.deadline_passed
        report.changes.sort(key=lambda c: (c.repository, c.setting))
        report.errors.sort(key=lambda e: e["repository"])
        report.calls = dict(sorted(self.aws.counter.calls.items()))
        return report

    def reconcile_one(self, repo: dict[str, Any], desired: Desired) -> tuple[list[Change], str | None, bool]:
        """Compare one repository with its template; with apply, write what differs.

        A repository is done or untouched: once its first write is sent, its other writes follow even if Ctrl-C,
        SIGTERM or the deadline comes meanwhile (a few calls), so no repository is left half reconciled by a stop.
        Returns the changes, an error (or None), and whether the repository was deleted meanwhile."""
        changes: list[Change] = []
        if self.stop.is_set():
            return changes, NOT_STARTED, False
        try:
            changes = self.drift(repo, desired)
            if self.apply and changes:
                if self.stop.is_set():
                    return changes, None, False  # stopped before its first write: untouched, reported unapplied
                with self.aws.finishing():
                    for change in changes:
                        self.write(repo, desired, change)
                        change.applied = True
        except (ClientError, BotoCoreError, *SHAPE_ERRORS) as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return [], None, True
            if isinstance(exc, DeadlineExceeded):
                self.stop.set()
                self.deadline_passed = True
                return [], NOT_STARTED, False  # its reads were cut short: nothing known, nothing written
            return changes, (could_not_check(exc) if unanswered(exc) else error_message(exc)), False
        return changes, None, False

    def drift(self, repo: dict[str, Any], desired: Desired) -> list[Change]:
        name = repo["repositoryName"]
        changes = []
        mutability = repo.get("imageTagMutability", "MUTABLE")
        filters = tuple(sorted(f["filter"] for f in repo.get("imageTagMutabilityExclusionFilters") or []))
        if (mutability, filters) != (desired.mutability, desired.exclusion_filters):
            changes.append(
                Change(
                    name,
                    "image_tag_mutability",
                    {"mutability": mutability, "exclusion_filters": list(filters)},
                    {"mutability": desired.mutability, "exclusion_filters": list(desired.exclusion_filters)},
                )
            )
        # No scan-on-push drift: registry scanning governs every repository, and the per-repository setting
        # (PutImageScanningConfiguration) "is being deprecated, in favor of specifying the image scanning
        # configuration at the registry level" (botocore's ECR model); writing it would change nothing real.
        if desired.lifecycle_policy is not None:
            current = self._lifecycle_policy(name)
            if current != desired.lifecycle_policy:
                changes.append(Change(name, "lifecycle_policy", current, desired.lifecycle_policy))
        if desired.tags:
            tags = {
                t["Key"]: t["Value"] for t in self.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            }
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
                    {"filterType": "WILDCARD", "filter": f} for f in desired.exclusion_filters
                ]
            self.ecr.put_image_tag_mutability(**kwargs)
        elif change.setting == "lifecycle_policy":
            self.ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=desired.lifecycle_policy)
        elif change.setting == "tags":
            self.ecr.tag_resource(
                resourceArn=repo["repositoryArn"],
                tags=[{"Key": k, "Value": v} for k, v in sorted(change.after.items())],
            )
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

        def show(v: dict[str, Any]) -> str:
            return str(v["mutability"]) + (f" ({', '.join(v['exclusion_filters'])})" if v["exclusion_filters"] else "")

        return show(change.before), show(change.after)
    if change.setting == "tags":
        return (
            ", ".join(f"{k}={v}" if v is not None else f"{k} missing" for k, v in change.before.items()),
            ", ".join(f"{k}={v}" for k, v in change.after.items()),
        )
    return policy(change.before), policy(change.after)


def summarize(changes: list[Change], desired: list[Desired]) -> dict[tuple[str, str], list[Change]]:
    """Changes grouped by cache prefix and setting, in a stable order: one row each, however many repositories."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        prefix = next((d.prefix for d in desired if change.repository.startswith(d.prefix + "/")), "?")
        groups.setdefault((prefix, change.setting), []).append(change)
    return dict(sorted(groups.items()))


def _abort_on_second_interrupt() -> None:
    """After the first Ctrl-C, a second one ends the process at once (the calls in flight are abandoned)."""
    import os
    import signal

    def abort(*_: Any) -> None:
        os.write(2, b"aborted: calls in flight abandoned; run reconcile again, it converges\n")
        os._exit(130)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, abort)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a pod stopped) stops a run as Ctrl-C does: no repository is started, the ones
    in flight finish their writes, and the report says which were done."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_report(console: Any, report: Any, reconciler: Any, args: Any, account: str, region: str) -> None:
    """The report for a reader: a summary per prefix and setting (or every repository with --details), errors,
    repositories deleted during the run, and what was done or left."""
    from rich.table import Table
    from rich.text import Text  # what AWS and the registry say is shown as Text: never parsed as markup or emoji

    aws = reconciler.aws
    others = f"{report.skipped} other {'repository' if report.skipped == 1 else 'repositories'}"
    console.print(
        Text(
            f"Cached repositories under {len(reconciler.desired)} prefixes in {account}/{region}: "
            f"{report.repositories} ({others} left alone)"
        )
    )
    if report.changes and getattr(args, "details", False):
        table = Table("repository", "setting", "now", "template", *(["applied"] if args.apply else []))
        for change in report.changes:
            before, after = describe(change)
            applied = ["yes" if change.applied else "no"] if args.apply else []
            table.add_row(*map(Text, (change.repository, change.setting, before, after, *applied)))
        console.print(table)
    elif report.changes:
        table = Table("prefix", "setting", "repositories", *(["applied"] if args.apply else []), "for example")
        for (prefix, setting), changes in summarize(report.changes, reconciler.desired).items():
            applied = [str(sum(c.applied for c in changes))] if args.apply else []
            examples = ", ".join(c.repository for c in changes[:3]) + (", ..." if len(changes) > 3 else "")
            table.add_row(*map(Text, (prefix, setting, str(len(changes)), *applied, examples)))
        console.print(table)
        console.print("--details lists every repository and setting; --json has them all", style="dim")
    for error in report.errors:
        console.print(Text(f"error: {error['repository']}: {error['error']}"), soft_wrap=True)
    for name in report.gone:
        console.print(Text(f"gone: {name} (deleted while the run was under way)"), soft_wrap=True)
    drifted = len({c.repository for c in report.changes})
    if args.apply:
        unapplied = len(report.changes) - report.applied
        done = f"{report.applied} changes in {drifted} repositories fixed" + (
            f", {unapplied} not applied" if unapplied else ""
        )
    else:
        done = f"{len(report.changes)} changes in {drifted} repositories to fix (dry run; --apply writes them)"
    console.print(f"{done}; {len(report.errors)} errors; {reconciler.aws.counter.total} AWS calls")
    if report.interrupted:
        console.print(f"interrupted: {report.not_checked} repositories not checked; run reconcile again, it converges")
    elif report.deadline_passed:
        console.print(
            f"the deadline of {aws.deadline_seconds:g} s passed: {report.not_checked} repositories not checked "
            "(each repository is done or untouched); run reconcile again, it converges"
        )


def run(args: Any, console: Any) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from .aws import DEFAULT_DEADLINE, confirm_identity
    from .exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNCHECKED
    from .outputs import registry_outputs

    outputs, account, region = registry_outputs(args.outputs, args.region)
    aws = Aws(
        region, args.endpoint_url, max_pool=args.workers * 2, deadline=getattr(args, "deadline", DEFAULT_DEADLINE)
    )
    confirm_identity(aws, account, region, getattr(args, "account", None))
    reconciler = Reconciler(aws, outputs, apply=args.apply, workers=args.workers)
    mode = "applying" if args.apply else "dry run"
    if console.is_terminal and not args.json:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"Reconciling ({mode})", total=None)

            def progress(step: int) -> None:
                bar.update(task, total=step) if step >= 0 else bar.advance(task)

            with _terminate_as_interrupt():
                report = reconciler.run(progress)
    else:
        with _terminate_as_interrupt():
            report = reconciler.run()

    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(console, report, reconciler, args, account, region)
    if report.interrupted:
        return EXIT_INTERRUPTED
    if report.deadline_passed:
        return EXIT_UNCHECKED
    if report.errors:
        return EXIT_UNCHECKED
    if args.fail_on_drift and report.changes and not args.apply:
        return EXIT_FAILED
    return EXIT_OK
