import sys

from .dependencies import missing, refusal
from .exits import EXIT_INVALID

absent = missing()
if absent:
    print(refusal(absent), file=sys.stderr)
    sys.exit(EXIT_INVALID)

from .cli import entry  # noqa: E402 - only once the dependencies are known to be here

sys.exit(entry())
