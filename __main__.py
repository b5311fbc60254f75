"""ecr-pull-through-cache: stack config -> typed settings (parsed once) -> one PullThroughCache -> stack outputs.

This is the only module that reads `pulumi.Config`. The whole config is validated against the
account and region the stack deploys to before any resource is declared.
"""

import pulumi
import pulumi_aws as aws

from ecr_pull_through_cache.config import (
    CONFIG_KEYS,
    SECRET_MAP_KEYS,
    StackContext,
    parse_settings,
    plain_secret_leaves,
    read_config,
    read_stack_file,
    secrets_outside_credentials,
    stack_file_path,
)
from ecr_pull_through_cache.registry import PullThroughCache

config = pulumi.Config()
raw, read_faults = read_config(config.get, lambda key: pulumi.runtime.is_config_secret(config.full_key(key)))
partition = aws.get_partition()
context = StackContext(
    account_id=aws.get_caller_identity().account_id,
    region=aws.get_region().region,
    partition=partition.partition,
    dns_suffix=partition.dns_suffix,
)
# The runtime marks all of `credentials` secret once one entry is: the stack file shows which entries are not.
stack_file = stack_file_path(pulumi.get_stack())
stack_document = read_stack_file(stack_file)
# A secret outside credentials: where the stack file shows it, else (ESC, --secret on the command line) the key.
misplaced = secrets_outside_credentials((stack_document or {}).get("config"), pulumi.get_project())
misplaced += [
    key
    for key in CONFIG_KEYS
    if key not in SECRET_MAP_KEYS
    and pulumi.runtime.is_config_secret(config.full_key(key))
    and not any(path == key or path.startswith((f"{key}.", f"{key}[")) for path in misplaced)
]
settings = parse_settings(
    raw,
    context,
    credentials_are_secret=pulumi.runtime.is_config_secret(config.full_key("credentials")),
    present_keys=[
        key.split(":", 1)[1] for key in pulumi.runtime.config.CONFIG.get() if key.startswith(config.full_key(""))
    ],
    plain_credentials=plain_secret_leaves((stack_document or {}).get("config"), pulumi.get_project()),
    misplaced_secrets=misplaced,
    gitlab_base_url=pulumi.Config("gitlab").get("baseUrl"),
    faults=read_faults,
)

# This registry may also be an upstream of other cache stacks: their grants go into its one registry policy.
incoming_grants = [
    pulumi.StackReference(stack).get_output("upstream_grants") for stack in settings.upstream_grant_stacks
] or None
# The settings as parsed, handed down typed: no value is validated twice on its way to a resource.
cache = PullThroughCache.from_settings(settings.environment, settings, incoming_grants=incoming_grants)

pulumi.export("registry_url", cache.registry_url)
pulumi.export("upstreams", cache.upstreams)
pulumi.export("consumer_policy_arns", cache.consumer_policy_arns)
pulumi.export("consumer_policy_arn", cache.consumer_policy_arn)  # deprecated: attach every consumer_policy_arns
pulumi.export("consumer_policy_documents", cache.consumer_policy_documents)
pulumi.export("consumer_policy_document", cache.consumer_policy_document)  # deprecated: consumer_policy_documents
pulumi.export("upstream_grants", cache.upstream_grants)
pulumi.export("image_hosts", cache.image_hosts)
