"""`ptc image`: rewrite image references (or the `image:` fields of manifests) to the pull through cache."""

from __future__ import annotations

import contextlib
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


MAX_MANIFEST_BYTES = 32 * 1024 * 1024
"""A manifest past 32 MiB is refused: Kubernetes refuses objects past 1.5 MiB (etcd's request limit), so this is
a generous bound for a multi-document file, not a limit anyone meets by accident."""


def _manifest(path: str, outputs: dict[str, Any], args: Any) -> int:
    """One manifest; a file that cannot be read or written is reported and the others still processed."""
    name = "<stdin>" if path == "-" else path
    from ecr_pull_through_cache.files import FileRefused, decode_text, read_limited

    from .outputs import read_stdin

    try:
        data = read_stdin(MAX_MANIFEST_BYTES) if path == "-" else read_limited(path, MAX_MANIFEST_BYTES, "the manifest")
        text = decode_text(data, name, "the manifest")
    except FileRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
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
            refusal = _outside_tree(Path(path))
            if refusal:
                print(f"error: {name}: {refusal}; it is unchanged", file=sys.stderr)
                return EXIT_USAGE
            try:
                write_atomically(Path(path), rewritten)
            except OSError as exc:
                print(f"error: cannot write {name}: {exc.strerror or exc}; it is unchanged", file=sys.stderr)
                return EXIT_USAGE
    else:
        sys.stdout.write(rewritten)
    return EXIT_NOT_CACHED if problems and not args.keep_uncached else EXIT_OK


def _outside_tree(path: Path) -> str | None:
    """Why `--in-place` must not write through `path`: a symlink whose target is outside the working directory
    (a manifest checked out from elsewhere must not let a rewrite reach, say, ~/.bashrc)."""
    if not path.is_symlink():
        return None
    target = path.resolve()
    tree = Path.cwd().resolve()
    if target != tree and tree not in target.parents:
        return f"is a symlink to {target}, outside {tree}: rewrite the file itself, or run ptc from its tree"
    return None


def write_atomically(path: Path, text: str) -> None:
    """Replace `path`'s content in one step: a temporary file beside it (same file system), its mode kept, then
    renamed over the target (of a symlink, the file it points to), so a reader or a crash never sees half a file."""
    import os
    import tempfile

    target = path.resolve()
    mode = target.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".ptc", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
