"""Tag rules shared by every service the stack tags (IAM, ECR, Secrets Manager, KMS), as pure functions.

The strictest of the four services decides, so one tag map is valid everywhere:

- at most 50 tags per resource (IAM `tagListType` max 50 in botocore's IAM model; ECR, Secrets Manager
  and KMS document the same 50 per resource: ECR user guide "Tagging a private repository", Secrets
  Manager user guide "Tag secrets", KMS developer guide "Tagging keys");
- keys 1-128 characters, values 0-256 (IAM `tagKeyType`/`tagValueType`, Secrets Manager
  `TagKeyType`/`TagValueType`, KMS `TagKeyType`/`TagValueType` in botocore's models);
- keys and values from Unicode letters, separators (spaces) and numbers plus `_ . : / = + - @` (the IAM
  pattern `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`, also what the ECR user guide lists for tags);
- no key starting with `aws:` in any letter case: AWS reserves it (IAM user guide, "Tagging IAM resources").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

MAX_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
EXTRA_CHARACTERS = frozenset("_.:/=+-@")

PROJECT_TAGS = (
    "environment",
    "ptc:prefix",
    "ptc:upstream",
    "ptc:token-scopes",
    "ptc:token-type",
    "ptc:token-expires-in-days",
    "ptc:token-rotate-before-days",
)
"""Tags the components add themselves; the most any one resource gets is all seven (the secret of a GitLab token
the stack creates)."""
TEMPLATE_PROJECT_TAGS = ("environment", "ptc:upstream", "ptc:prefix")
"""The project tags a creation template gives the repositories it creates."""


def _allowed(char: str) -> bool:
    return char in EXTRA_CHARACTERS or unicodedata.category(char)[0] in "LZN"


def key_faults(key: object) -> list[str]:
    if not isinstance(key, str):
        return [f"tag keys must be text, not {type(key).__name__}"]
    faults = []
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        faults.append(f"the key is {len(key)} characters; AWS allows 1 to {MAX_KEY_LENGTH}")
    if key.lower().startswith("aws:"):
        faults.append("keys starting with 'aws:' are reserved by AWS; choose another key")
    bad = sorted({c for c in key if not _allowed(c)})
    if bad:
        faults.append(
            f"the key has characters AWS refuses in tags ({_shown(bad)}); use letters, digits, spaces and "
            "_ . : / = + - @"
        )
    return faults


def value_faults(value: str) -> list[str]:
    faults = []
    if len(value) > MAX_VALUE_LENGTH:
        faults.append(f"the value is {len(value)} characters; AWS allows at most {MAX_VALUE_LENGTH}")
    bad = sorted({c for c in value if not _allowed(c)})
    if bad:
        faults.append(
            f"the value has characters AWS refuses in tags ({_shown(bad)}); use letters, digits, spaces "
            "and _ . : / = + - @"
        )
    return faults


def count_fault(tags: Mapping[str, object], added: int = len(PROJECT_TAGS)) -> str | None:
    """A sentence when `tags` plus the `added` project tags exceed the per-resource quota."""
    if len(tags) + added > MAX_TAGS:
        return (
            f"has {len(tags)} tags; the project adds up to {added} of its own and AWS allows {MAX_TAGS} per "
            f"resource, so keep it to {MAX_TAGS - added}"
        )
    return None


def _shown(chars: list[str]) -> str:
    return " ".join(repr(c) for c in chars[:5]) + (" ..." if len(chars) > 5 else "")
