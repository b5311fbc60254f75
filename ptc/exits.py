"""Exit codes and the two refusals every verb shares; no imports, so `ptc preview` never loads boto3 for them."""

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNCHECKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""Every verb: 0 clean, 1 a check or policy failed, 2 invalid input, 3 could not check (network, credentials,
AWS errors), 130 interrupted."""


class InvalidInput(Exception):
    """Arguments, environment or outputs that cannot be acted on (exit 2)."""


class CouldNotCheck(Exception):
    """AWS could not be asked: no credentials, no network, an AWS error (exit 3)."""
