"""Exit codes and the two refusals every verb shares; no imports, so `ptc preview` never loads boto3 for them."""

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNCHECKED, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 3, 130, 141
"""Every verb: 0 clean, 1 a check or policy failed, 2 invalid input, 3 could not check (network, credentials,
AWS errors), 130 interrupted, 141 the output was closed before the report was written (`ptc preview | head`: the
shell's code for a process ended by SIGPIPE, so `set -o pipefail` sees a report cut short)."""


class InvalidInput(Exception):
    """Arguments, environment or outputs that cannot be acted on (exit 2)."""


class CouldNotCheck(Exception):
    """AWS could not be asked: no credentials, no network, an AWS error (exit 3)."""
