"""`ptc image`: rewrite image references (or the `image:` fields of manifests) to the pull through cache."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ecr_pull_through_cache.images import InvalidReference, NotCached, rewrite_image, rewrite_manifest

from .outputs import load_outputs

EXIT_OK, EXIT_NOT_CACHED, EXIT_USAGE = 0, 1, 2


def run(args: Any) -> int:
    outputs = load_outputs(args.outputs, args.stack)
    if not args.references and not args.manifest:
        print("error: give image references, or --manifest FILE", file=sys.stderr)
        return EXIT_USAGE
    status = EXIT_OK
    for reference in args.references:
        try:
            print(rewrite_image(reference, outputs))
        except (NotCached, InvalidReference) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_NOT_CACHED
    for manifest in args.manifest or []:
        status = max(status, _manifest(manifest, outputs, args))  # each file on its own
    return status


def _manifest(path: str, outputs: dict[str, Any], args: Any) -> int:
    """One manifest; a file that cannot be read or written is reported and the others still processed."""
    name = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or ("not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc)
        print(f"error: cannot read {name}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    rewritten, changes = rewrite_manifest(text, outputs)
    problems = [c for c in changes if c.problem]
    for change in changes:
        if change.problem:
            print(f"{name}:{change.line}: {change.before}: {change.problem} (left unchanged)", file=sys.stderr)
        elif change.after != change.before:
            print(f"{name}:{change.line}: {change.before} -> {change.after}", file=sys.stderr)
    if args.in_place and path != "-":
        if rewritten != text:
            try:
                Path(path).write_text(rewritten, encoding="utf-8")
            except OSError as exc:
                print(f"error: cannot write {name}: {exc.strerror or exc}; it is unchanged", file=sys.stderr)
                return EXIT_USAGE
    else:
        sys.stdout.write(rewritten)
    return EXIT_NOT_CACHED if problems and not args.keep_uncached else EXIT_OK
