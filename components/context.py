"""Where the components deploy: account, partition, region and DNS suffix, from the provider."""

from typing import NamedTuple

import pulumi
import pulumi_aws as aws


class AwsContext(NamedTuple):
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    dns_suffix: pulumi.Output[str]

    @property
    def registry_url(self) -> pulumi.Output[str]:
        """`<account>.dkr.ecr.<region>.<dns suffix>`: this account's private registry."""
        return pulumi.Output.concat(self.account_id, ".dkr.ecr.", self.region, ".", self.dns_suffix)


def aws_context(parent: pulumi.Resource) -> AwsContext:
    """Look the context up through the parent's provider (three invokes)."""
    opts = pulumi.InvokeOutputOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=opts)
    partition = aws.get_partition_output(opts=opts)
    region = aws.get_region_output(opts=opts)
    return AwsContext(
        account_id=identity.account_id,
        partition=partition.partition,
        region=region.region,
        dns_suffix=partition.dns_suffix,
    )
