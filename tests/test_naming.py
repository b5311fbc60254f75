"""Prefix and secret-name rules against the patterns of botocore's ECR model, with property tests."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache import naming
from tests.botocore_model import shape

PREFIX_SHAPE = shape("PullThroughCacheRuleRepositoryPrefix")
ARN_SHAPE = shape("CredentialArn")
AWS_PREFIX = re.compile(PREFIX_SHAPE["pattern"])
AWS_ARN = re.compile(ARN_SHAPE["pattern"])

component = st.from_regex(r"[a-z0-9]{1,6}((\.|_|__|-{1,2})[a-z0-9]{1,6}){0,2}", fullmatch=True)
valid_prefixes = (
    st.lists(component, min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda p: naming.PREFIX_MIN_LENGTH <= len(p) <= naming.PREFIX_MAX_LENGTH)
)


def test_patterns_are_the_models():
    assert naming.PREFIX_PATTERN == PREFIX_SHAPE["pattern"]
    assert (naming.PREFIX_MIN_LENGTH, naming.PREFIX_MAX_LENGTH) == (PREFIX_SHAPE["min"], PREFIX_SHAPE["max"])
    assert naming.CREDENTIAL_ARN_PATTERN == ARN_SHAPE["pattern"]
    assert (naming.CREDENTIAL_ARN_MIN_LENGTH, naming.CREDENTIAL_ARN_MAX_LENGTH) == (ARN_SHAPE["min"], ARN_SHAPE["max"])


@given(valid_prefixes)
def test_valid_prefixes_are_accepted_and_aws_agrees(prefix):
    assert naming.prefix_faults(prefix) == []
    assert AWS_PREFIX.match(prefix)


@settings(max_examples=300)
@given(st.text(alphabet="abcXYZ019-_./ ", min_size=0, max_size=34))
def test_prefix_faults_agree_with_the_model_on_any_text(text):
    aws_ok = bool(AWS_PREFIX.match(text)) and PREFIX_SHAPE["min"] <= len(text) <= PREFIX_SHAPE["max"] and text != "ROOT"
    assert (naming.prefix_faults(text) == []) == aws_ok


@given(valid_prefixes)
def test_normalized_prefixes_stay_valid_and_random_suffix_fits_when_reserved(prefix):
    assert naming.normalize_prefix(prefix + "/") == prefix
    if naming.prefix_faults(prefix, reserve=naming.RANDOM_SUFFIX_LENGTH + 1) == []:
        suffixed = naming.suffixed_prefix(prefix, "ef1b")
        assert AWS_PREFIX.match(suffixed) and len(suffixed) <= PREFIX_SHAPE["max"]


def test_root_is_refused_as_a_cache_prefix_and_the_messages_name_the_fix():
    assert naming.prefix_faults("ROOT", allow_root=True) == []  # an ECR upstream's prefix may be ROOT
    assert "needs permissions on repository/*" in naming.prefix_faults("ROOT")[0]
    assert "2 to 30" in naming.prefix_faults("a" * 31)[0]
    assert "lower-case" in naming.prefix_faults("Docker")[0]
    assert "25 (the random suffix takes 5)" in naming.prefix_faults("a" * 26, reserve=5)[0]


@given(
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}", fullmatch=True),
    valid_prefixes,
    st.from_regex(r"[a-z0-9]{26}", fullmatch=True),
    st.sampled_from(["us-east-2", "eu-west-1", "cn-north-1"]),
)
def test_generated_secret_arns_satisfy_the_credential_arn_rule(environment, prefix, unique, region):
    """The secret ECR reads: name prefix + AWS's unique id, in an ARN with AWS's 6-char suffix."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    name = naming.secret_name_prefix(environment, prefix) + unique
    arn = f"arn:{partition}:secretsmanager:{region}:123456789012:secret:{name}-AbC123"
    assert name.startswith("ecr-pullthroughcache/")
    assert naming.is_credential_arn(arn)
    assert AWS_ARN.match(arn)


def test_secret_names_differ_across_environments():
    assert naming.secret_name_prefix("dev", "gitlab") != naming.secret_name_prefix("prod", "gitlab")
    assert naming.secret_name_prefix("dev", "mirrors/quay") == "ecr-pullthroughcache/dev/mirrors-quay-"


def test_overlap_and_slug():
    assert naming.prefixes_overlap("team", "team/hub")
    assert naming.prefixes_overlap("team/hub", "team")
    assert not naming.prefixes_overlap("team", "teams")
    assert naming.slug("mirrors/quay") == "mirrors-quay"


def test_environment_rules():
    assert naming.environment_faults("dev") == []
    assert naming.environment_faults(None)
    assert "lower-case" in naming.environment_faults("Dev")[0]
    assert "16" in naming.environment_faults("a" * 17)[0]


def test_parse_arn():
    arn = naming.parse_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/x-AbCdEf")
    assert (arn.region, arn.account, arn.service) == ("eu-west-1", "123456789012", "secretsmanager")
    assert arn.resource == "secret:ecr-pullthroughcache/x-AbCdEf"
    assert naming.parse_arn("not-an-arn") is None


@given(
    st.from_regex(
        r"[a-z0-9]{1,4}((\.|_|__|-+)[a-z0-9]{1,4}){0,3}(/[a-z0-9]{1,4}((\.|_|__|-+)[a-z0-9]{1,4}){0,2}){0,2}",
        fullmatch=True,
    )
)
def test_the_scanning_filter_is_valid_and_covers_every_repository_under_the_prefix(prefix):
    """ECR takes prefixes with '__' and '--' that no scanning filter can spell; the filter puts '*' in their place."""
    from fnmatch import fnmatchcase

    scan = naming.scanning_filter(prefix)
    assert re.fullmatch(shape("ScanningRepositoryFilterValue")["pattern"], scan), scan  # botocore's model decides
    assert len(scan) <= 255  # ScanningRepositoryFilterValue's maximum
    for repository in (f"{prefix}/app", f"{prefix}/team/app"):
        assert fnmatchcase(repository, scan)
    if not re.search(r"__|--", prefix):
        assert scan == f"{prefix}/*"  # nothing wider than needed where the prefix can be written as it is


def test_scanning_filters_of_double_separators():
    assert naming.scanning_filter("team__hub") == "team*hub/*"
    assert naming.scanning_filter("a---b/c--d") == "a*b/c*d/*"
    assert naming.scanning_filter("docker-hub/") == "docker-hub/*"
