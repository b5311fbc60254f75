"""Replication that copies cached images out of the organisation's accounts.

A registry's replication configuration copies every new image of the repositories its filters match to each
destination registry, in any account (ECR User Guide, "Private image replication"; a rule with no
`repositoryFilters` replicates every repository; a `PREFIX_MATCH` filter matches names that start with it). A rule
whose filters reach a cache prefix and whose destination is an account outside the stack's own (`accountIds`) and
`allowedAccounts` hands the cached images, and what they reveal of the organisation's supply chain, to that
account. Same-account replication to another region is the account's own business.
"""

from ptc_policy_support.hardening import declare
from pulumi_policy import ReportViolation, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from facts import account_list
from support import Unknowns, as_list, get, known_indexed, label, shown

REPLICATIONS = (
    "aws:ecr/replicationConfiguration:ReplicationConfiguration",
    "aws-native:ecr:ReplicationConfiguration",
)
RULES = ("aws:ecr/pullThroughCacheRule:PullThroughCacheRule", "aws-native:ecr:PullThroughCacheRule")
ROOT = "ROOT"
"""The prefix of a rule that caches the whole upstream at the registry's root (every repository may be cached)."""


def cache_prefixes(args: StackValidationArgs, unknowns: Unknowns) -> list[str]:
    prefixes = []
    for rule in (r for r in args.resources if r.resource_type in RULES):
        with unknowns.guard(label(rule.resource_type, rule.name)):
            prefix = get(rule.props, "ecrRepositoryPrefix")
            if isinstance(prefix, str):
                prefixes.append(prefix)
    return prefixes


def covered(filters: list, prefixes: list[str]) -> list[str]:
    """The cache prefixes whose repositories a rule's filters match (all of them when it has no filter)."""
    if not filters:
        return prefixes
    found = []
    for prefix in prefixes:
        for item in filters:
            value = get(item, "filter") if hasattr(item, "keys") else None
            if not isinstance(value, str):
                continue
            if prefix == ROOT or (prefix + "/").startswith(value) or value.startswith(prefix + "/"):
                found.append(prefix)
                break
    return found


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    allowed = {str(a) for a in (config.get("allowedAccounts") or [])} | {str(a) for a in config.get("accountIds") or []}
    unknowns = Unknowns()
    prefixes = cache_prefixes(args, unknowns)
    for resource in (r for r in args.resources if r.resource_type in REPLICATIONS):
        what = label(resource.resource_type, resource.name)
        own = None
        try:
            own = get(resource.props, "registryId")
        except UnknownValueError:
            pass
        accounts = allowed | ({own} if isinstance(own, str) and own else set())
        with unknowns.guard(what):
            configuration = get(resource.props, "replicationConfiguration") or {}
            for index, rule in known_indexed(get(configuration, "rules"), unknowns, what):
                with unknowns.guard(what):
                    copied = covered(as_list(get(rule, "repositoryFilters")), prefixes)
                    if not copied:
                        continue
                    for destination in as_list(get(rule, "destinations")):
                        account = get(destination, "registryId")
                        if not accounts:
                            unknowns.skipped.append(
                                f"{what} rule {index} (set accountIds to check replication destinations in preview)"
                            )
                            continue
                        if account not in accounts:
                            report(
                                f"The replication configuration {what}: rule {index} copies the cached repositories "
                                f"under {', '.join(copied)} to account {shown(account)}, which is neither the stack's "
                                f"({', '.join(sorted(accounts))}) nor in allowedAccounts; filter the cache prefixes "
                                "out of the rule (repositoryFilters) or add the account to allowedAccounts.",
                                resource.urn,
                            )
    unknowns.finish()


POLICY = declare(
    "cache-replication-in-bounds",
    "ECR replication rules that reach a cache prefix copy it only to the stack's own accounts "
    "(accountIds, or the configuration's registry) or to allowedAccounts.",
    validate,
    stack=True,
    settings={
        "allowedAccounts": account_list("Accounts that may receive replicated cached images besides the stack's own."),
        "accountIds": account_list(
            "The accounts the stack deploys to; lets the check run during preview, before the "
            "registry's account is known."
        ),
    },
)
