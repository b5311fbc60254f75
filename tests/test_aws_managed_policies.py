"""The AWS managed policies the security pack judges (policies/security/aws_managed_policies.json) are moto's copy of
AWS's documents, kept by tools/aws_managed_policies.py to what cache-permissions-scoped can judge: the file is what
the tool derives from the pinned moto, and every verdict on the kept statements is the verdict on the whole
document."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "policies" / "security"))
try:
    import aws_managed_policies as tool

    import permissions
finally:
    del sys.path[:2]

DATA = tool.moto_data()


def test_the_pack_file_is_what_the_tool_derives_from_the_pinned_moto():
    assert permissions.MANAGED_POLICIES.read_text(encoding="utf-8") == tool.render(tool.derive(DATA)), (
        "policies/security/aws_managed_policies.json is stale: run .venv/bin/python tools/aws_managed_policies.py"
    )


def faults(statements, own_accounts):
    return Counter(f for s in statements for f in permissions.statement_faults(s, False, False, own_accounts))


@pytest.mark.parametrize("own_accounts", [[], ["111122223333"]])
def test_every_verdict_on_the_kept_statements_is_the_verdict_on_the_whole_document(own_accounts):
    kept = tool.derive(DATA)
    differ = [
        name
        for name, policy in DATA.items()
        if faults(tool.as_list(policy["Document"].get("Statement", [])), own_accounts)
        != faults(kept.get(name, []), own_accounts)
    ]
    assert not differ


def test_the_full_access_policies_are_judged_from_their_documents():
    kept = tool.derive(DATA)
    for name, expected in {
        "AmazonEC2ContainerRegistryFullAccess": "every ECR action",
        "AdministratorAccess": "every ECR action",
        "PowerUserAccess": "NotAction",
        "AmazonEC2ContainerRegistryPullOnly": "ecr:BatchImportUpstreamImage on *",
    }.items():
        assert any(expected in f for f in faults(kept[name], [])), name
    assert not faults(kept.get("AmazonEC2ContainerRegistryReadOnly", []), [])
