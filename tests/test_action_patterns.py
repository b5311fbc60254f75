"""Action patterns read as IAM matches them (issue 30, action classes): the security pack's test for "every ECR
action" (policies/security/permissions.py) never says so of a pattern that misses one of the operations in
botocore's ECR model, and says so of every pattern that matches the whole namespace."""

from __future__ import annotations

import sys
from fnmatch import fnmatchcase

import botocore.loaders
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "policies" / "security"))
try:
    import permissions
finally:
    sys.path.pop(0)

OPERATIONS = sorted(botocore.loaders.Loader().load_service_model("ecr", "service-2")["operations"])
ACTIONS = [f"ecr:{name}" for name in OPERATIONS]
PATTERNS = st.text(alphabet="ecr:*?ImagePutBatchx", min_size=1, max_size=12)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(PATTERNS)
@example("ecr:**")
@example("ecr:?*")
@example("e*:*")
@example("*")
@example("ecr:Put*")
def test_every_ecr_action_is_said_only_of_patterns_that_match_every_operation(pattern):
    if permissions.every_ecr_action(pattern):
        assert all(fnmatchcase(a.lower(), pattern.lower()) for a in ACTIONS), pattern


def test_the_wildcards_that_grant_the_namespace_are_all_caught():
    for pattern in ("ecr:*", "ECR:*", "ecr:**", "ecr:?*", "e*:*", "*", "*:*", "ecr*"):
        assert permissions.every_ecr_action(pattern), pattern
    for pattern in ("ecr:Put*", "ecr:Batch*", "ecr:*Image", "ecr-public:*", "ecr:GetAuthorizationToken"):
        assert not permissions.every_ecr_action(pattern), pattern
