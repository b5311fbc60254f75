"""Which principals a statement's `Condition` lets through, read with IAM's own semantics (issue 30).

A condition narrows `"Principal": "*"` only if every principal outside the organization (or outside the named
accounts) fails it. Read from the IAM User Guide, "IAM JSON policy elements: Condition operators" and "Single-valued
vs. multivalued context keys":
- The blocks of a `Condition` are ANDed, so one narrowing block is enough; the values of one key are ORed.
- `...IfExists`: "If the policy key is present in the context of the request, process the key as specified in the
  policy. If the key is not present, evaluate the condition element as true." A principal outside any organization
  has no `aws:PrincipalOrgID`, so such a block lets it in.
- `ForAllValues:` "returns true if ... the context key in the request is missing" (or empty): it narrows nothing.
- `ForAnyValue:` returns false when the key is missing: it narrows like the plain operator.
- Negated operators (`StringNotEquals`, `StringNotLike`, `ArnNotEquals`, `ArnNotLike`) are true when the key is
  missing, and let in every principal but those named: they narrow nothing.
- `Null: {key: "false"}` only asks that the key exist: any organization's principals pass.
The keys that name who the principal is (IAM User Guide, "AWS global condition context keys"):
`aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` (an organization), `aws:PrincipalAccount` (the principal's
account) and `aws:PrincipalArn` (the principal's ARN, so its account); in a KMS key policy `kms:CallerAccount` too
("the AWS account of the caller", AWS KMS Developer Guide, "AWS KMS condition keys"), which AWS's own key policies
use to open a key to one account's principals.
"""

import re

ORG_KEYS = ("aws:principalorgid", "aws:principalorgpaths")
ACCOUNT_KEYS = ("aws:principalaccount", "aws:principalarn", "kms:calleraccount")
ACCOUNT_ID_KEYS = ("aws:principalaccount", "kms:calleraccount")
MATCHING = ("stringequals", "stringlike", "arnequals", "arnlike", "stringequalsignorecase")
"""Operators that are true only when a value of the key matches one named (false when the key is missing)."""
ORG_VALUE = re.compile(r"o-[a-z0-9]{10,32}(/.*)?", re.ASCII)
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)
ACCOUNT_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::(?P<account>[0-9]{12}):.+", re.ASCII)


class Narrowed:
    """What a statement's condition limits `*` to: an organization, or a set of accounts (or nothing)."""

    def __init__(self, organization: bool = False, accounts: frozenset[str] | None = None) -> None:
        self.organization = organization
        self.accounts = accounts


def _values(value) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) and not hasattr(value, "items"):
        return list(value)
    return [value]


def _operator(name: str) -> str | None:
    """The plain matching operator a block's operator narrows like, or None when it narrows nothing."""
    lowered = name.lower()
    if lowered.endswith("ifexists") or lowered.startswith("forallvalues:"):
        return None
    lowered = lowered.removeprefix("foranyvalue:")
    return lowered if lowered in MATCHING else None


def _account_of(key: str, value) -> str | None:
    """The one account a value of an account key names; None if it names none or a pattern of many."""
    if not isinstance(value, str):
        return None
    if key in ACCOUNT_ID_KEYS:
        return value if ACCOUNT_ID.fullmatch(value) else None
    match = ACCOUNT_ARN.fullmatch(value)
    return match.group("account") if match else None


def narrowed(condition) -> Narrowed:
    """The narrowest limit any block of `condition` sets on who the principal is."""
    if not hasattr(condition, "items"):
        return Narrowed()
    organization, accounts = False, None
    for operator, keys in condition.items():
        if not isinstance(operator, str) or _operator(operator) is None or not hasattr(keys, "items"):
            continue
        for key, value in keys.items():
            if not isinstance(key, str):
                continue
            key = key.lower()
            values = _values(value)
            if not values:
                continue
            if key in ORG_KEYS and all(
                isinstance(v, str) and ORG_VALUE.fullmatch(v) and "*" not in v.split("/")[0] and "?" not in v
                for v in values
            ):
                organization = True
            elif key in ACCOUNT_KEYS:
                named = [_account_of(key, v) for v in values]
                if all(named):
                    found = frozenset(a for a in named if a)
                    accounts = found if accounts is None else accounts & found  # blocks are ANDed
    return Narrowed(organization, accounts)


def loose_operator(condition) -> str | None:
    """An operator that puts an organization or account key under semantics that let strangers in (IfExists,
    ForAllValues, a negation), for the message: the user meant to narrow and did not."""
    if not hasattr(condition, "items"):
        return None
    for operator, keys in condition.items():
        if isinstance(operator, str) and _operator(operator) is None and hasattr(keys, "items"):
            if any(isinstance(k, str) and k.lower() in ORG_KEYS + ACCOUNT_KEYS for k in keys):
                return operator
    return None
