"""The security pack's reading of `Condition` (policies/security/conditions.py) against a brute-force model of
IAM's condition semantics over a small universe of principals (issue 30).

The model below evaluates a condition for one request context at a time, written from the IAM User Guide
("Condition operators", "...IfExists", "Single-valued vs. multivalued context keys"), independently of the
pack's analytical reading. Soundness is the security property: whatever the pack takes as narrowing `"*"`
to an organization or to accounts, no principal outside it gets through in the model.
"""

from __future__ import annotations

import importlib.util
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("pack_conditions", ROOT / "policies" / "security" / "conditions.py")
assert _spec and _spec.loader
conditions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conditions)

OURS, OTHER = "o-ours000001", "o-other00001"


def principal(account: str, org: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalAccount": account,
        "kms:CallerAccount": account,
        "aws:PrincipalArn": f"arn:aws:iam::{account}:role/app",
    }
    if org is not None:
        context["aws:PrincipalOrgID"] = org
        context["aws:PrincipalOrgPaths"] = [f"{org}/r-ab12/ou-ab12-11111111/"]
    return context


UNIVERSE = [
    principal("111122223333", OURS),
    principal("777788889999", OURS),
    principal("444455556666", OTHER),
    principal("444455556666", None),  # a standalone account: no organization keys at all
    principal("999900001111", "o-strange0001"),  # a stranger no value in the pool names
    principal("999900002222", None),
    principal("111122223399", None),  # a stranger a wildcard on our account's digits still matches
]
MULTIVALUED = {"aws:principalorgpaths"}


def _match(base: str, have: str, want: Any) -> bool:
    want = str(want)
    if base in ("stringequals", "arnequals"):
        return have == want
    if base == "stringequalsignorecase":
        return have.lower() == want.lower()
    return fnmatchcase(have, want)  # StringLike, ArnLike: * and ? wildcards


def evaluate_block(operator: str, key: str, values: list[Any], context: dict[str, Any]) -> bool:
    lowered = operator.lower()
    quantifier = None
    for prefix in ("forallvalues:", "foranyvalue:"):
        if lowered.startswith(prefix):
            quantifier, lowered = prefix[:-1], lowered[len(prefix) :]
    if_exists = lowered.endswith("ifexists")
    base = lowered.removesuffix("ifexists")
    present = {k.lower(): v for k, v in context.items()}.get(key.lower())
    if base == "null":
        return all((present is None) == (str(v).lower() == "true") for v in values)
    negated = "not" in base
    base = base.replace("not", "")
    if present is None:
        if quantifier == "forallvalues":
            return True
        if quantifier == "foranyvalue":
            return if_exists
        return if_exists or negated
    have = present if isinstance(present, list) else [present]
    if quantifier == "forallvalues":
        return all(any(_match(base, h, w) for w in values) != negated for h in have)
    if quantifier == "foranyvalue" or key.lower() in MULTIVALUED:
        return any(any(_match(base, h, w) for w in values) != negated for h in have)
    matched = any(_match(base, have[0], w) for w in values)
    return not matched if negated else matched


def admits(condition: dict[str, dict[str, list[Any]]], context: dict[str, Any]) -> bool:
    return all(
        evaluate_block(operator, key, values, context)
        for operator, keys in condition.items()
        for key, values in keys.items()
    )


OPERATORS = [
    f"{quantifier}{base}{suffix}"
    for quantifier in ("", "ForAnyValue:", "ForAllValues:")
    for base in ("StringEquals", "StringLike", "StringNotEquals", "StringNotLike", "ArnLike", "StringEqualsIgnoreCase")
    for suffix in ("", "IfExists")
] + ["Null"]
KEYS = [
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:principalorgid",
    "kms:CallerAccount",
]
VALUES = [
    OURS,
    OTHER,
    "o-*",
    f"{OURS}/*",
    f"{OURS}/r-ab12/*",
    "111122223333",
    "444455556666",
    "*",
    "1111222233*",
    "arn:aws:iam::111122223333:role/*",
    "arn:aws:iam::*:role/app",
    "true",
    "false",
]


@st.composite
def conditions_(draw):
    condition: dict[str, dict[str, list[Any]]] = {}
    for operator in draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=2, unique=True)):
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True))
        condition[operator] = {key: draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2)) for key in keys}
    return condition


def named_orgs(condition) -> set[str]:
    return {
        str(v).split("/")[0]
        for keys in condition.values()
        for key, values in keys.items()
        if key.lower() in ("aws:principalorgid", "aws:principalorgpaths")
        for v in values
    }


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(conditions_())
@example({"StringEqualsIfExists": {"aws:PrincipalOrgID": [OURS]}})
@example({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": [OURS]}})
@example({"StringNotEquals": {"aws:PrincipalOrgID": [OTHER]}})
@example({"Null": {"aws:PrincipalOrgID": ["false"]}})
@example({"StringEquals": {"aws:PrincipalAccount": ["111122223333"]}})
def test_what_the_pack_takes_as_narrowing_lets_no_stranger_in(condition):
    limit = conditions.narrowed(condition)
    let_in = [p for p in UNIVERSE if admits(condition, p)]
    if limit.organization:
        orgs = named_orgs(condition)
        assert all(p.get("aws:PrincipalOrgID") in orgs for p in let_in), (condition, let_in)
    if limit.accounts is not None:
        assert all(p["aws:PrincipalAccount"] in limit.accounts for p in let_in), (condition, let_in)


@pytest.mark.parametrize(
    "condition, organization, accounts",
    [
        ({"StringEquals": {"aws:PrincipalOrgID": OURS}}, True, None),
        ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{OURS}/r-ab12/*"]}}, True, None),
        ({"StringEqualsIfExists": {"aws:PrincipalOrgID": OURS}}, False, None),
        ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": [OURS]}}, False, None),
        ({"StringNotEquals": {"aws:PrincipalOrgID": OTHER}}, False, None),
        ({"Null": {"aws:PrincipalOrgID": "false"}}, False, None),
        ({"StringEquals": {"aws:PrincipalAccount": "111122223333"}}, False, {"111122223333"}),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}}, False, {"111122223333"}),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}}, False, None),
        ({"StringLike": {"aws:PrincipalAccount": "1111222233*"}}, False, None),
    ],
)
def test_the_issues_cases(condition, organization, accounts):
    """IfExists and ForAllValues on aws:PrincipalOrgID let a standalone account in (issue 30); aws:PrincipalAccount
    limited to one account is as narrow as naming the account."""
    limit = conditions.narrowed(condition)
    assert limit.organization is organization
    assert limit.accounts == (frozenset(accounts) if accounts is not None else None)
    if not organization and accounts is None:
        assert any(p.get("aws:PrincipalOrgID") is None and admits(_listed(condition), p) for p in UNIVERSE) or any(
            admits(_listed(condition), p) for p in UNIVERSE if p["aws:PrincipalAccount"][-4:] in ("1111", "3399")
        )


def _listed(condition):
    return {op: {k: v if isinstance(v, list) else [v] for k, v in keys.items()} for op, keys in condition.items()}
