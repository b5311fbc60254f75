"""`python -m ptc`: the operator CLI (docs/DESIGN.md section 8)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

from .exits import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_PIPE, EXIT_UNCHECKED, CouldNotCheck, InvalidInput
from .outputs import OutputsError


def find_project(start: Path) -> Path | None:
    """The Pulumi project: `start` or the nearest parent holding a `Pulumi.yaml`, as the Pulumi CLI finds it."""
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    return None


def positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse reports a refusal with the option named)."""
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ptc", description="Operate ECR pull through caches built by this project.")
    from ecr_pull_through_cache import __version__

    top.add_argument("--version", action="version", version=f"ptc (ecr-pull-through-cache) {__version__}")
    verbs = top.add_subparsers(dest="verb", required=True, metavar="VERB")

    _preview_arguments(verbs)
    _image_arguments(verbs)
    _reconcile_arguments(verbs)
    _verify_arguments(verbs)
    return top


def _preview_arguments(verbs: Any) -> None:
    """`ptc preview`: the offline preview and policy gate."""
    preview = verbs.add_parser("preview", help="offline preview and policy gate: no cloud account, no Pulumi CLI")
    source = preview.add_mutually_exclusive_group()
    source.add_argument(
        "--stack",
        help="preview Pulumi.<stack>.yaml (default: PULUMI_STACK, else the stack `pulumi stack select` chose, "
        "else dev)",
    )
    source.add_argument("--config", metavar="FILE", help="preview the stack config in FILE")
    source.add_argument("--all", action="store_true", help="preview every Pulumi.<stack>.yaml, in one process")
    preview.add_argument("--json", action="store_true", help="print {resources, outputs, violations} as JSON")
    preview.add_argument(
        "--policy-config", metavar="FILE", help="policy configuration, as for `pulumi preview --policy-pack-config`"
    )
    preview.add_argument(
        "--stack-outputs",
        action="append",
        metavar="NAME=FILE",
        help="the outputs of a stack the program reads with StackReference (NAME as the program names it), from "
        "`pulumi stack output --json` (repeatable)",
    )
    preview.add_argument(
        "--policy-pack",
        dest="policy_packs",
        action="append",
        metavar="DIR",
        help="run this policy pack (repeatable); as with `pulumi preview --policy-pack`, only the packs given run "
        "(default: the project's policies/*)",
    )
    preview.add_argument(
        "-C",
        "--cwd",
        dest="project_dir",
        metavar="DIR",
        help="the Pulumi project (default: this directory or the nearest parent with a Pulumi.yaml)",
    )
    preview.add_argument("--project-dir", dest="project_dir", help=argparse.SUPPRESS)


def _image_arguments(verbs: Any) -> None:
    """`ptc image`: image references rewritten to the caches."""
    image = verbs.add_parser("image", help="rewrite image references to the pull through cache")
    image.add_argument("references", nargs="*", metavar="REF", help="image references, e.g. nginx:1.27")
    outputs = image.add_mutually_exclusive_group(required=True)
    outputs.add_argument(
        "--outputs", metavar="FILE", help="`pulumi stack output --json` of the cache stack (- for stdin)"
    )
    outputs.add_argument("--stack", help="read the outputs of this stack with the Pulumi CLI")
    image.add_argument(
        "--manifest",
        metavar="FILE",
        action="append",
        help="rewrite the image: fields of a Kubernetes manifest or Compose file (repeatable; - for stdin)",
    )
    image.add_argument("--in-place", action="store_true", help="write manifests back instead of printing them")
    image.add_argument(
        "--keep-uncached",
        action="store_true",
        help="leave image: fields no rule caches unchanged (still reported) and exit 0",
    )


def _reconcile_arguments(verbs: Any) -> None:
    """`ptc reconcile`: cached repositories brought in line with their template."""
    reconcile = verbs.add_parser("reconcile", help="bring cached repositories in line with their template")
    reconcile.add_argument(
        "--outputs", metavar="FILE", required=True, help="`pulumi stack output --json` of the cache stack (- for stdin)"
    )
    reconcile.add_argument("--apply", action="store_true", help="write what differs (default: report only)")
    reconcile.add_argument(
        "--json", action="store_true", help='print {"repositories": N, "changes": [...], "errors": [...]}'
    )
    reconcile.add_argument("--fail-on-drift", action="store_true", help="exit 1 when a dry run finds drift")
    reconcile.add_argument(
        "--details",
        action="store_true",
        help="list every repository and setting (default: a summary by prefix and setting)",
    )
    reconcile.add_argument("--workers", type=positive_int, default=8, help="repositories handled at once (default 8)")
    _aws_arguments(reconcile)


def _verify_arguments(verbs: Any) -> None:
    """`ptc verify`: every cache checked against the live registry."""
    verify = verbs.add_parser("verify", help="check every cache against the live registry after `pulumi up`")
    verify.add_argument(
        "--outputs", metavar="FILE", required=True, help="`pulumi stack output --json` of the cache stack (- for stdin)"
    )
    verify.add_argument("--json", action="store_true", help='print {"checks": [...], "summary": {...}}')
    verify.add_argument(
        "--max-token-age-days",
        type=positive_int,
        default=90,
        help="rotation limit: fail for tokens older than this (default 90)",
    )
    verify.add_argument(
        "--check-token-scopes", action="store_true", help="ask GitLab and GitHub what each token can really do"
    )
    verify.add_argument("--gitlab-api-url", default="https://gitlab.com", help=argparse.SUPPRESS)
    verify.add_argument("--github-api-url", default="https://api.github.com", help=argparse.SUPPRESS)
    _aws_arguments(verify)


def _aws_arguments(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("--region", help="AWS region (default: the registry's, from the outputs)")
    verb.add_argument(
        "--deadline",
        type=positive_int,
        default=600,
        metavar="SECONDS",
        help="stop asking AWS after this long; what was not checked is reported so (default 600)",
    )
    verb.add_argument("--endpoint-url", help="AWS endpoint, e.g. http://127.0.0.1:5000 for moto.server")
    verb.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        help="act on this account's registry even though the outputs describe another account's "
        "(refused otherwise: every call goes to the caller's own registry)",
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console: Any = LazyConsole()
    try:
        return _dispatch(args, console)
    except (OutputsError, InvalidInput) as exc:  # the verbs that read the cache stack's outputs share one way to fail
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except CouldNotCheck as exc:
        print(f"error: could not check: {exc}", file=sys.stderr)
        return EXIT_UNCHECKED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): nothing more can reach it, and no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the last flush must not fail again
        print("ptc: the output was closed before the report was written in full", file=sys.stderr)
        return EXIT_PIPE
    except Exception as exc:  # noqa: BLE001 - never a traceback, never a message that could carry a token
        import os
        import traceback

        if os.environ.get("PTC_DEBUG"):
            from .stack_config import redact_known

            # The traceback's messages may quote a secret config value: shown redacted, as every other message.
            print(redact_known(traceback.format_exc()), file=sys.stderr, end="")
        print(
            f"error: ptc failed unexpectedly ({type(exc).__name__}); its message is withheld in case it holds a "
            "secret. Set PTC_DEBUG=1 to see the traceback, and report it.",
            file=sys.stderr,
        )
        return EXIT_UNCHECKED


class LazyConsole:
    """rich's Console, made on first use: `--json` and `ptc image` never pay for importing rich."""

    def __init__(self) -> None:
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            class PipeConsole(Console):
                def on_broken_pipe(self) -> None:
                    """rich exits 1 here, which reads as "a policy failed": `main` reports it as exit 141."""
                    self.quiet = True
                    raise BrokenPipeError

            console = PipeConsole(highlight=False)
            if not console.is_terminal:  # CI logs and pipes: no colour (rich's default) and room for the tree
                console = PipeConsole(highlight=False, width=max(console.width, 140))
            self._console = console
        return getattr(self._console, name)


def entry() -> int:
    """The `ptc` console script: `main`, then a quick exit (see `exit_now`)."""
    from .dependencies import missing, refusal

    absent = missing()
    if absent:
        print(refusal(absent), file=sys.stderr)
        return EXIT_INVALID
    from .pack_launch import mark_fresh_process

    mark_fresh_process()
    code = main()
    close_event_loop()
    from . import timing

    timing.mark("done")
    timing.report()
    exit_now(code)
    return code  # only when exit_now is patched out (tests)


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown once the report is out.

    A preview leaves the Pulumi SDK's idle executor threads, the log server the packs talk to and ~1,500 modules
    behind; joining and finalizing them took ~0.2 s after the last line was printed, a quarter of `ptc preview`.
    Nothing of it holds data: the atexit handlers still run first (they close the relay or the pack host, which
    stop the packs), then logging and both streams are flushed, and the process exits with the verb's code.
    """
    import atexit
    import logging
    import os

    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`ptc preview | head`): nothing more can reach it
            pass
    os._exit(code)


def close_event_loop() -> None:
    """Close the SDK's event loop now: left to the garbage collector at exit, its self-pipe may already be gone,
    and asyncio prints a traceback ("Invalid file descriptor: -1") after a clean report."""
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running() and not loop.is_closed():
        loop.close()


def _dispatch(args: argparse.Namespace, console: Console) -> int:
    if args.verb == "preview":
        start = Path(args.project_dir or Path.cwd()).resolve()
        project = find_project(start) if not args.project_dir else start
        if project is None or not (project / "Pulumi.yaml").is_file():
            raise InvalidInput(
                f"no Pulumi.yaml in {start} or any parent: run ptc from the Pulumi project, or pass -C DIR"
            )
        args.project_dir = str(project)
        if not args.stack and not args.config and not args.all:
            # The stack `pulumi preview` would use here, else the embedded default.
            from .stack_config import selected_stack

            selected = selected_stack(project)
            args.stack = selected[0] if selected else "dev"
            if selected:  # on stderr: `--json` keeps stdout one document
                print(f"Stack {selected[0]}: {selected[1]} (--stack picks another)", file=sys.stderr)
        from . import pack_launch, pack_relay, preview, timing

        if args.policy_packs:
            chosen = [Path(d) for d in args.policy_packs]
            for pack in chosen:
                if not (pack / "PulumiPolicy.yaml").is_file():
                    raise InvalidInput(f"--policy-pack {pack}: not a policy pack (no PulumiPolicy.yaml in it)")
            pack_launch.select_packs(chosen)

        timing.mark("imports")
        # The SDK imported and no gRPC object made: the relay (and the pack host it forks) need no imports.
        pack_relay.start(project)

        return preview.run(args, console)
    if args.verb == "image":
        from . import image

        return image.run(args)
    if args.verb == "reconcile":
        from . import reconcile

        return reconcile.run(args, console)
    if args.verb == "verify":
        from . import verify

        return verify.run(args, console)
    raise AssertionError(args.verb)  # argparse rejects unknown verbs


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())
