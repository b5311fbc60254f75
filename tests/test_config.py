"""Config validation: every fault named (upstream index and kind, field, fix), all at once, before anything exists."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ecr_pull_through_cache.config import CONFIG_KEYS, ConfigError, StackContext, parse_settings
from tests.conftest import BASE_CONFIG, PROJECT, TOKENS, run_stack, stack_config

CONTEXT = StackContext(account_id="123456789012", region="us-east-2")
OTHER_ACCOUNT_ARN = "arn:aws:secretsmanager:us-east-2:999999999999:secret:ecr-pullthroughcache/hub-AbCdEf"
OTHER_REGION_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"


def parse(config: dict[str, Any], context: StackContext = CONTEXT):
    """What `__main__.py` does: read every project key, then validate."""
    stack = stack_config(config)
    raw = {key: stack.get(f"{PROJECT}:{key}") for key in CONFIG_KEYS}
    return parse_settings(raw, context, credentials_are_secret=f"{PROJECT}:credentials" in stack.secret_keys)


def faults_of(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(config)
    return [str(f) for f in err.value.faults]


def mutate(fn: Callable[[dict], None]) -> dict[str, Any]:
    config = copy.deepcopy(BASE_CONFIG)
    fn(config)
    return config


def add_upstream(entry: dict, token: str | None = None, key: str | None = None):
    def fn(config):
        config["upstreams"].append(entry)
        if token:
            config["credentials"][key] = {"secure": token}

    return fn


def hub(config) -> dict:
    return config["upstreams"][1]


CASES = [
    (
        "unknown kind",
        add_upstream({"kind": "harbor"}),
        "upstreams[2] (harbor) kind",
        "not a supported upstream; use one of ecr-public",
    ),
    (
        "prefix pattern",
        lambda c: hub(c).update(prefix="Docker_Hub!"),
        "upstreams[1] (docker-hub) prefix",
        "does not match ECR's prefix pattern",
    ),
    (
        "prefix too long",
        lambda c: hub(c).update(prefix="a" * 31),
        "upstreams[1] (docker-hub) prefix",
        "ECR allows 2 to 30",
    ),
    (
        "prefix too short",
        lambda c: c["upstreams"][0].update(prefix="e"),
        "upstreams[0] (ecr-public) prefix",
        "ECR allows 2 to 30",
    ),
    (
        "duplicate prefix",
        add_upstream({"kind": "quay", "prefix": "ecr-public"}),
        "upstreams[2] (quay) prefix",
        "'ecr-public' is already used by upstreams[0]",
    ),
    (
        "overlapping prefixes",
        add_upstream({"kind": "quay", "prefix": "ecr-public/quay"}),
        "upstreams[2] (quay) prefix",
        "overlaps 'ecr-public'",
    ),
    (
        "same resource names",
        lambda c: c["upstreams"].extend(
            [{"kind": "quay", "prefix": "mirror/quay"}, {"kind": "k8s", "prefix": "mirror-quay"}]
        ),
        "upstreams[3] (k8s) prefix",
        "gives the same resource names as upstreams[2]",
    ),
    (
        "more than 50 rules",
        lambda c: c["upstreams"].extend({"kind": "quay", "prefix": f"quay-{i}"} for i in range(49)),
        "upstreams",
        "has 51 entries; ECR allows 50",
    ),
    ("empty list", lambda c: c.update(upstreams=[]), "upstreams", "is required: list at least one"),
    (
        "missing username",
        lambda c: hub(c).pop("username"),
        "upstreams[1] (docker-hub) username",
        "is required for Docker Hub",
    ),
    (
        "missing token",
        lambda c: c.pop("credentials"),
        "upstreams[1] (docker-hub) credentials.docker-hub",
        "pulumi config set --secret --path 'credentials.docker-hub' <token>",
    ),
    (
        "missing scopes",
        lambda c: hub(c).pop("token_scopes"),
        "upstreams[1] (docker-hub) token_scopes",
        "is required: declare the token's scopes",
    ),
    (
        "scope beyond least privilege",
        add_upstream(
            {"kind": "gitlab-container-registry", "username": "bot", "token_scopes": ["read_registry", "api"]},
            TOKENS["gitlab"],
            "gitlab",
        ),
        "upstreams[2] (gitlab-container-registry) token_scopes",
        "'api' is beyond least privilege",
    ),
    (
        "token for quay",
        add_upstream({"kind": "quay"}, "quay-token", "quay"),
        "upstreams[2] (quay) credentials.quay",
        "ECR refuses credentials for Quay",
    ),
    (
        "username for ecr-public",
        lambda c: c["upstreams"][0].update(username="bot"),
        "upstreams[0] (ecr-public) username",
        "not allowed for kind 'ecr-public'",
    ),
    (
        "scopes for k8s",
        add_upstream({"kind": "k8s", "token_scopes": ["read"]}),
        "upstreams[2] (k8s) token_scopes",
        "not allowed for kind 'k8s'",
    ),
    (
        "azure without registry",
        add_upstream(
            {"kind": "azure-container-registry", "username": "tok", "token_scopes": ["content/read"]},
            TOKENS["azure"],
            "azure",
        ),
        "upstreams[2] (azure-container-registry) registry",
        "is required for kind 'azure-container-registry'",
    ),
    (
        "azure with a bad registry",
        add_upstream(
            {
                "kind": "azure-container-registry",
                "registry": "acme-prod",
                "username": "tok",
                "token_scopes": ["content/read"],
            },
            TOKENS["azure"],
            "azure",
        ),
        "upstreams[2] (azure-container-registry) registry",
        "not an Azure Container Registry name",
    ),
    (
        "ecr without registry",
        add_upstream({"kind": "ecr", "prefix": "golden"}),
        "upstreams[2] (ecr) registry",
        "is required for kind 'ecr'",
    ),
    (
        "ecr without prefix",
        add_upstream({"kind": "ecr", "registry": "210987654321"}),
        "upstreams[2] (ecr) prefix",
        "is required for kind 'ecr'",
    ),
    (
        "registry on a fixed-url kind",
        lambda c: hub(c).update(registry="docker.io"),
        "upstreams[1] (docker-hub) registry",
        "only applies to kinds azure-container-registry and ecr",
    ),
    (
        "upstream_prefix on a non-ecr kind",
        lambda c: hub(c).update(upstream_prefix="library"),
        "upstreams[1] (docker-hub) upstream_prefix",
        "only applies to kind 'ecr'",
    ),
    (
        "existing secret outside the prefix",
        lambda c: (hub(c).update(existing_secret="dockerhub/creds"), hub(c).pop("username"), c.pop("credentials")),
        "upstreams[1] (docker-hub) existing_secret",
        "must start with 'ecr-pullthroughcache/'",
    ),
    (
        "existing secret in another region",
        lambda c: (hub(c).update(existing_secret=OTHER_REGION_ARN), hub(c).pop("username"), c.pop("credentials")),
        "upstreams[1] (docker-hub) existing_secret",
        "is in region eu-west-1 but the stack deploys to us-east-2",
    ),
    (
        "existing secret in another account",
        lambda c: (hub(c).update(existing_secret=OTHER_ACCOUNT_ARN), hub(c).pop("username"), c.pop("credentials")),
        "upstreams[1] (docker-hub) existing_secret",
        "is in account 999999999999 but the stack deploys to",
    ),
    (
        "token with an existing secret",
        lambda c: (hub(c).update(existing_secret="ecr-pullthroughcache/hub"), hub(c).pop("username")),
        "upstreams[1] (docker-hub) credentials.docker-hub",
        "this upstream uses existing_secret",
    ),
    (
        "existing secret for a keyless kind",
        lambda c: c["upstreams"][0].update(existing_secret="ecr-pullthroughcache/x"),
        "upstreams[0] (ecr-public) existing_secret",
        "not allowed for kind 'ecr-public'",
    ),
    (
        "credentials for no upstream",
        lambda c: c["credentials"].update(gitlab={"secure": "x"}),
        "credentials gitlab",
        "matches no upstream prefix",
    ),
    (
        "plain-text credentials",
        lambda c: c.update(credentials={"docker-hub": TOKENS["docker-hub"]}),
        "credentials",
        "holds tokens in plain text",
    ),
    (
        "fine-grained GitHub token",
        add_upstream(
            {"kind": "github-container-registry", "username": "bot", "token_scopes": ["read:packages"]},
            "github_pat_11AAAA",
            "github",
        ),
        "upstreams[2] (github-container-registry) credentials.github",
        "fine-grained GitHub token",
    ),
    (
        "unknown upstream key",
        lambda c: hub(c).update(usename="typo"),
        "upstreams[1] (docker-hub) usename",
        "is not a known key",
    ),
    ("missing kind", add_upstream({"prefix": "hub2"}), "upstreams[2] kind", "is required: one of"),
    ("entry not a mapping", lambda c: c["upstreams"].append("quay"), "upstreams[2]", "must be a mapping"),
    ("missing environment", lambda c: c.pop("environment"), "environment", "pulumi config set environment"),
    ("bad environment", lambda c: c.update(environment="Prod_1"), "environment", "lower-case letters"),
    ("reserved tag", lambda c: c.update(tags={"environment": "x"}), "tags environment", "set by the project"),
    ("aws tag", lambda c: c.update(tags={"aws:owner": "x"}), "tags aws:owner", "reserved by AWS"),
    (
        "random suffix on a long prefix",
        lambda c: c["upstreams"][0].update(prefix="a" * 26, random_suffix=True),
        "upstreams[0] (ecr-public) prefix",
        "the random suffix takes 5",
    ),
    (
        "exclusion filters without exclusion",
        lambda c: c.update(template={"image_tag_mutability_exclusion_filters": ["latest"]}),
        "template image_tag_mutability_exclusion_filters",
        "only applies with IMMUTABLE_WITH_EXCLUSION",
    ),
    (
        "exclusion mutability without filters",
        lambda c: c.update(template={"image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION"}),
        "template image_tag_mutability_exclusion_filters",
        "is required with IMMUTABLE_WITH_EXCLUSION",
    ),
    (
        "bad tag mutability",
        lambda c: hub(c).update(template={"image_tag_mutability": "FROZEN"}),
        "upstreams[1] (docker-hub) template.image_tag_mutability",
        "'FROZEN' is not one of MUTABLE",
    ),
    (
        "lifecycle policy not JSON",
        lambda c: c.update(template={"lifecycle_policy": "{rules: " + "x" * 120}),
        "template lifecycle_policy",
        "is not valid JSON",
    ),
    (
        "lifecycle policy without rules",
        lambda c: c.update(template={"lifecycle_policy": {"rulez": ["x" * 100]}}),
        "template lifecycle_policy",
        "non-empty 'rules' list",
    ),
    (
        "applied_for without PULL_THROUGH_CACHE",
        lambda c: c.update(template={"applied_for": ["REPLICATION"]}),
        "template applied_for",
        "must include PULL_THROUGH_CACHE",
    ),
    (
        "kms key twice",
        lambda c: c.update(kms={"create_key": True, "key_arn": "arn:aws:kms:us-east-2:123456789012:key/abc"}),
        "kms key_arn",
        "both set",
    ),
    (
        "kms key in another region",
        lambda c: c.update(kms={"key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abc"}),
        "kms key_arn",
        "is in region eu-west-1",
    ),
    (
        "scanning frequency",
        lambda c: c.update(scanning={"scan_type": "BASIC", "frequency": "CONTINUOUS_SCAN"}),
        "scanning frequency",
        "'CONTINUOUS_SCAN' is not one of SCAN_ON_PUSH",
    ),
    (
        "recovery window",
        lambda c: c.update(secret_recovery_window_days=3),
        "secret_recovery_window_days",
        "from 7 to 30",
    ),
    (
        "consumers account id",
        lambda c: c.update(consumers={"account_ids": ["12345"]}),
        "consumers account_ids",
        "not a 12-digit AWS account id",
    ),
    # --- AWS rules (issue: what preview passes, AWS must pass)
    (
        "account id with a trailing newline",
        lambda c: c.update(consumers={"account_ids": ["210987654321\n"]}),
        "consumers account_ids",
        "not a 12-digit AWS account id",
    ),
    (
        "account id in non-ASCII digits",
        lambda c: c.update(consumers={"account_ids": ["\u0662" * 12]}),
        "consumers account_ids",
        "not a 12-digit AWS account id",
    ),
    (
        "prefix with a trailing newline",
        lambda c: hub(c).update(prefix="docker-hub\n"),
        "upstreams[1] (docker-hub) prefix",
        "does not match ECR's prefix pattern",
    ),
    (
        "KMS_DSSE outside GovCloud",
        lambda c: c.update(template={"encryption": "KMS_DSSE"}),
        "template encryption",
        "KMS_DSSE exists only in the AWS GovCloud (US) regions",
    ),
    (
        "too many tags",
        lambda c: c.update(tags={f"t{i}": "v" for i in range(44)}),
        "tags",
        "AWS allows 50 per resource, so keep it to 43",
    ),
    ("tag key over 128", lambda c: c.update(tags={"k" * 129: "v"}), "tags " + "k" * 129, "AWS allows 1 to 128"),
    (
        "tag value with a character AWS refuses",
        lambda c: c.update(tags={"team": "a#b"}),
        "tags team",
        "characters AWS refuses in tags ('#')",
    ),
    ("aws: tag in capitals", lambda c: c.update(tags={"AWS:team": "x"}), "tags AWS:team", "reserved by AWS"),
    (
        "template tags beyond the quota",
        # each within its own quota (43 with the project's 7 tags), but the repositories carry both, plus 3
        lambda c: c.update(
            tags={f"s{i}": "v" for i in range(10)}, template={"resource_tags": {f"r{i}": "v" for i in range(40)}}
        ),
        "template resource_tags",
        "AWS allows 50 per repository",
    ),
    (
        "ECR upstream in another partition",
        add_upstream(
            {"kind": "ecr", "prefix": "golden", "registry": "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"}
        ),
        "upstreams[2] (ecr) registry",
        "is in partition aws-cn but the stack deploys to aws",
    ),
    (
        "ECR upstream on the stack's own registry",
        add_upstream({"kind": "ecr", "prefix": "golden", "registry": "123456789012"}),
        "upstreams[2] (ecr) registry",
        "is this stack's own registry",
    ),
    (
        "IAM path roles accept but policies refuse",
        lambda c: c.update(iam={"path": "/a~b/"}),
        "iam path",
        "policyPathType",
    ),
    (
        "permissions boundary that is not a policy",
        lambda c: c.update(iam={"permissions_boundary": "arn:aws:iam::123456789012:role/boundary"}),
        "iam permissions_boundary",
        "is not a managed policy ARN",
    ),
    (
        "template role that is not a role",
        lambda c: c.update(template={"custom_role_arn": "ecr-template-role"}),
        "template custom_role_arn",
        "is not an IAM role ARN",
    ),
    (
        "template repository policy that is not JSON",
        lambda c: c.update(template={"repository_policy": "{nope"}),
        "template repository_policy",
        "is not valid JSON",
    ),
    (
        "template repository policy over 10,240",
        lambda c: c.update(template={"repository_policy": {"Statement": [{"Sid": "x" * 10300}]}}),
        "template repository_policy",
        "RepositoryPolicyText",
    ),
    (
        "lifecycle rule with tagged but no tag list",
        lambda c: c.update(
            template={
                "lifecycle_policy": {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 5},
                            "action": {"type": "expire"},
                        }
                    ]
                }
            }
        ),
        "template lifecycle_policy",
        "tagStatus tagged needs exactly one of tagPrefixList and tagPatternList",
    ),
    (
        "lifecycle rule without days",
        lambda c: c.update(
            template={
                "lifecycle_policy": {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 5},
                            "action": {"type": "expire"},
                        }
                    ]
                }
            }
        ),
        "template lifecycle_policy",
        'needs countUnit "days"',
    ),
    (
        "lifecycle any rule first",
        lambda c: c.update(
            template={
                "lifecycle_policy": {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 9},
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 2,
                            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                            "action": {"type": "expire"},
                        },
                    ]
                }
            }
        ),
        "template lifecycle_policy",
        "tagStatus any must have the highest rulePriority",
    ),
    (
        "lifecycle action that is not expire",
        lambda c: c.update(
            template={
                "lifecycle_policy": {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5},
                            "action": {"type": "delete"},
                        }
                    ]
                }
            }
        ),
        "template lifecycle_policy",
        "action.type must be one of expire, transition",
    ),
    (
        "a non-string environment",
        lambda c: c.update(environment=True),
        "environment",
        "must be text such as 'dev', not bool True",
    ),
    (
        "registry policy statement without a principal",
        lambda c: c.update(registry_policy_statements=[{"Effect": "Allow", "Action": "ecr:ReplicateImage"}]),
        "registry_policy_statements [0]",
        "needs Effect (Allow or Deny), Principal and Action",
    ),
]


@pytest.mark.parametrize("case, change, location, message", CASES, ids=[c[0] for c in CASES])
def test_each_fault_names_where_the_field_and_the_fix(case, change, location, message):
    faults = faults_of(mutate(change))
    assert any(f.startswith(location + ":") and message in f for f in faults), faults


def test_a_mistyped_setting_is_refused_not_ignored():
    config = dict(BASE_CONFIG, scaning={"scan_type": "BASIC"}, colour="blue")
    faults = faults_of_program(config)
    assert "scaning: is not a setting of this project and would be ignored; did you mean 'scanning'?" in faults
    assert "  - colour: is not a setting of this project and would be ignored; the settings are environment" in faults


def faults_of_program(config: dict[str, Any]) -> str:
    """The faults as the program reports them (it lists the keys the stack sets)."""
    result = run_stack(config)
    assert isinstance(result.error, ConfigError)
    return str(result.error)


def test_the_base_config_is_valid():
    settings = parse(BASE_CONFIG)
    assert [u.prefix for u in settings.upstreams] == ["ecr-public", "docker-hub"]
    assert settings.upstreams[1].token.reveal() == TOKENS["docker-hub"]
    assert TOKENS["docker-hub"] not in repr(settings)


def test_every_fault_is_reported_at_once():
    def break_four_things(c):
        c["environment"] = "BAD"
        hub(c).pop("username")
        c["upstreams"].append({"kind": "quay", "username": "x"})
        c["upstreams"].append({"kind": "nope"})

    faults = faults_of(mutate(break_four_things))
    assert len(faults) == 4, faults
    assert faults[0].startswith("environment:")


def test_an_invalid_config_creates_nothing_and_reads_cleanly():
    result = run_stack(
        mutate(lambda c: (hub(c).pop("username"), c["upstreams"].append({"kind": "quay", "username": "x"})))
    )
    assert isinstance(result.error, ConfigError)
    assert result.resources == []
    text = str(result.error)
    assert text.startswith("The stack config has 2 problems; nothing was created.")
    assert "upstreams[1] (docker-hub) username" in text and "upstreams[2] (quay) username" in text
    assert "Traceback" not in text


def test_defaults_and_normalisation():
    config = mutate(
        lambda c: c["upstreams"].extend(
            [
                {"kind": "ecr", "prefix": "golden/", "registry": "210987654321"},
                {
                    "kind": "azure-container-registry",
                    "registry": "AcmeProd",
                    "username": "tok",
                    "token_scopes": ["content/read"],
                },
            ]
        )
    )
    config["credentials"]["azure"] = {"secure": TOKENS["azure"]}
    settings = parse(config)
    golden, azure = settings.upstreams[2], settings.upstreams[3]
    assert golden.prefix == "golden"  # trailing slash dropped, as ECR does
    assert golden.upstream_url == "210987654321.dkr.ecr.us-east-2.amazonaws.com"
    assert golden.upstream_prefix == "ROOT"
    assert azure.upstream_url == "acmeprod.azurecr.io"
    assert settings.upstreams[0].template.image_tag_mutability == "MUTABLE"
    assert settings.upstreams[0].template.encryption == "AES256"


def test_kms_makes_kms_the_default_encryption_and_overrides_merge():
    config = mutate(
        lambda c: (
            c.update(kms={"create_key": True}, template={"image_tag_mutability": "IMMUTABLE"}),
            hub(c).update(template={"max_image_count": 5}),
        )
    )
    settings = parse(config)
    public, dockerhub = settings.upstreams
    assert public.template.encryption == dockerhub.template.encryption == "KMS"
    assert public.template.image_tag_mutability == dockerhub.template.image_tag_mutability == "IMMUTABLE"
    assert '"countNumber":5' in dockerhub.template.lifecycle_policy
    assert '"countNumber":5' not in public.template.lifecycle_policy


def test_a_fault_in_the_shared_template_is_reported_once():
    config = mutate(
        lambda c: (
            c.update(template={"image_tag_mutability": "FROZEN"}),
            hub(c).update(template={"max_image_count": 5}),
        )
    )
    faults = faults_of(config)
    assert len([f for f in faults if "FROZEN" in f]) == 1, faults


def test_kms_dsse_is_accepted_in_govcloud():
    config = mutate(lambda c: c.update({"aws:region": "us-gov-west-1"}, template={"encryption": "KMS_DSSE"}))
    settings = parse(config, StackContext(account_id="123456789012", region="us-gov-west-1", partition="aws-us-gov"))
    assert settings.upstreams[0].template.encryption == "KMS_DSSE"


def test_tags_in_any_script_are_accepted():
    settings = parse(mutate(lambda c: c.update(tags={"Kostenstelle": "Ölförderung 42", "チーム": "基盤"})))
    assert settings.tags == {"Kostenstelle": "Ölförderung 42", "チーム": "基盤"}


def test_a_token_block_with_a_stray_token_scopes_of_any_type_is_a_named_fault():
    """Found by the fuzz test: `token_scopes: false` next to a token block crashed the program."""
    for value in (False, 5, "read_registry", ["api"]):
        faults = faults_of(
            mutate(
                add_upstream({"kind": "gitlab-container-registry", "token": {"group": "acme"}, "token_scopes": value})
            )
        )
        assert any("token_scopes: is read_registry for a token the stack creates" in f for f in faults), faults


def test_templates_count_only_the_three_project_tags_they_add():
    """47 repository tags plus the template's environment, ptc:upstream and ptc:prefix make 50: allowed."""
    config = mutate(lambda c: c.update(tags={}, template={"resource_tags": {f"r{i}": "v" for i in range(42)}}))
    config["tags"] = {f"s{i}": "v" for i in range(5)}
    assert parse(config).upstreams[0].template.resource_tags
    from ecr_pull_through_cache import tags

    assert len(tags.TEMPLATE_PROJECT_TAGS) == 3


def test_account_ids_stored_as_integers_by_config_set_path_are_accepted():
    """`pulumi config set --path 'consumers.account_ids[0]' 210987654321` stores an integer (the CLI coerces digit
    strings without a leading zero); 12-digit integers are the account ids they were written as."""
    config = copy.deepcopy(BASE_CONFIG)
    config["consumers"] = {"account_ids": [210987654321]}
    config["upstreams"].append({"kind": "ecr", "prefix": "golden", "registry": 210987654321})
    settings = parse(config)
    assert settings.consumers.account_ids == ("210987654321",)
    assert settings.upstreams[-1].upstream_url == "210987654321.dkr.ecr.us-east-2.amazonaws.com"
    for wrong in (21098765432, 2109876543210, True):  # 11 and 13 digits, and a boolean, are still refused
        config["consumers"] = {"account_ids": [wrong]}
        assert any("account_ids" in fault for fault in faults_of(config))


def test_a_template_repository_policy_with_a_resource_is_refused_before_anything_is_created():
    config = copy.deepcopy(BASE_CONFIG)
    config["template"] = {
        "repository_policy": {
            "Statement": [
                {"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"}
            ]
        }
    }
    (fault,) = faults_of(config)
    assert fault.startswith("template repository_policy: statement 'Org' has a Resource element")


def test_credentials_that_are_not_a_mapping_are_refused_without_showing_them():
    """`pulumi config set --secret credentials 123456789012345` stores a number: the whole value is a token."""
    for value in (123456789012345, "glpat-SECRET-TOKEN-0123456789", ["glpat-SECRET-TOKEN-0123456789"]):
        raw = {key: None for key in CONFIG_KEYS} | {"environment": "dev", "upstreams": [{"kind": "quay"}]}
        with pytest.raises(ConfigError) as err:
            parse_settings(raw | {"credentials": value}, CONTEXT)
        text = str(err.value)
        assert "credentials: must be a mapping of upstream prefix to token" in text
        assert "SECRET" not in text and "123456789012345" not in text


def test_the_parsed_config_never_shows_a_token():
    """The typed model keeps every token as a SecretValue: a repr of the model or of the settings (a log line, a
    debugger) shows none."""
    from ecr_pull_through_cache.config import OPTIONAL_OBJECT_KEYS, StackConfig

    stack = stack_config(BASE_CONFIG)
    raw = {key: stack.get(f"{PROJECT}:{key}") for key in CONFIG_KEYS}
    raw = {key: None if key in OPTIONAL_OBJECT_KEYS and value in ({}, []) else value for key, value in raw.items()}
    model = StackConfig.parse(raw, {"stack": CONTEXT})
    assert model.credentials and all(token not in repr(model) for token in TOKENS.values())
    settings = parse(BASE_CONFIG)
    assert any(u.token is not None for u in settings.upstreams)
    assert all(token not in repr(settings) for token in TOKENS.values())
