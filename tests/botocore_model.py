"""botocore's ECR service model: the authority on ECR's API constraints."""

import functools

import botocore.loaders


@functools.cache
def ecr_shapes() -> dict:
    return botocore.loaders.create_loader().load_service_model("ecr", "service-2")["shapes"]


def shape(name: str) -> dict:
    return ecr_shapes()[name]
