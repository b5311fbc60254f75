"""Reading a file a user named without trusting it: a regular file, bounded in size, read without blocking.

`/dev/zero` would be read until memory runs out, a FIFO would block `ptc` forever, a directory or a socket gives
an OSError with no word of what to do: each is refused with the file and the fix named, before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class FileRefused(ValueError):
    """A file that cannot be read as what it should be; the message names it and says why."""


def read_limited(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes; `what` names it in a refusal
    (`"the stack file"`, `"--outputs"`)."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever; it changes nothing for a file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileRefused(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)  # of what was opened: no window for the path to change in between
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(info.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(info.st_mode)
                else "a device"
                if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket"
                if stat.S_ISSOCK(info.st_mode)
                else "not a regular file"
            )
            raise FileRefused(f"{what} {path} is {kind}; give a regular file")
        if info.st_size > limit:
            raise FileRefused(f"{what} {path} is {_size(info.st_size)}, over the {_size(limit)} it may be")
        chunks = []
        left = limit + 1  # a file that grows while read is caught too
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise FileRefused(f"{what} {path} is over the {_size(limit)} it may be")
        return data
    except OSError as exc:
        raise FileRefused(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, path: str | Path, what: str) -> str:
    """Text as yaml.v3 reads it: UTF-8, or UTF-16 when the file starts with its byte order mark; a UTF-8 BOM is
    dropped."""
    import codecs

    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"{what} {path} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); save it as UTF-8"
        ) from None


def _size(count: int) -> str:
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    if count >= 1 << 10:
        return f"{count // 1024} KiB"
    return f"{count} bytes"
