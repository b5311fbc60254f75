"""Values known only after apply: judge what is known, defer the rest with one advisory note per policy."""

import contextlib
from collections.abc import Iterator

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError


class DeferredChecks(UnknownValueError):
    """Checks that wait for values known only after apply; the SDK reports it as an advisory note."""

    def __init__(self, skipped: list[str]):
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = f"{len(skipped)} check(s) need values known only after apply: {'; '.join(skipped)}"


class Unknowns:
    """Checks what is known and defers the rest, so one unknown value does not hide other findings.

    Wrap each independent check in `with unknowns.guard(what):` and call `finish()` last: if any
    check met an unknown value, `finish` raises `DeferredChecks`, which the SDK turns into "can't
    run policy ... during preview" next to the violations already reported.
    """

    def __init__(self) -> None:
        self.skipped: list[str] = []

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except DeferredChecks as exc:
            self.skipped.append(exc.message)
        except UnknownValueError as exc:
            self.skipped.append(f"{what} .{'.'.join(exc.props)}")

    def finish(self) -> None:
        if self.skipped:
            raise DeferredChecks(self.skipped)
