"""A workload that pulls through the organisation's ECR pull through cache.

It reads the cache stack's outputs through a StackReference, lets its ECS task execution role
pull through every cache prefix (`consumer_policy_arns`), and runs its images from the cache
(`rewrite_image`, one call per reference; an image no rule caches stops the deployment).
"""

import json

import pulumi
import pulumi_aws as aws

from ecr_pull_through_cache.images import rewrite_image

ECS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

config = pulumi.Config()
cache = pulumi.StackReference(config.require("cacheStack"))
images: list[str] = config.get_object("images") or []

execution_role = aws.iam.Role(
    "workload-execution",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    ),
)
# Every consumer policy: the cache splits its grants across several when IAM's 6,144-character
# quota cannot hold them in one. Exclusive: this role carries exactly these policies.
aws.iam.RolePolicyAttachmentsExclusive(
    "workload-pulls-through-cache",
    role_name=execution_role.name,
    policy_arns=cache.require_output("consumer_policy_arns").apply(lambda arns: [*arns, ECS_EXECUTION_POLICY]),
)

cached_images = cache.require_output("upstreams").apply(
    lambda upstreams: [rewrite_image(image, upstreams) for image in images]
)

task = aws.ecs.TaskDefinition(
    "workload",
    family="workload",
    requires_compatibilities=["FARGATE"],
    network_mode="awsvpc",
    cpu="256",
    memory="512",
    execution_role_arn=execution_role.arn,
    container_definitions=cached_images.apply(
        lambda refs: json.dumps(
            [{"name": f"container-{index}", "image": ref, "essential": index == 0} for index, ref in enumerate(refs)]
        )
    ),
)

pulumi.export("images", cached_images)
pulumi.export("execution_role_arn", execution_role.arn)
